/**
 * A client's opening link request (SpiceLinkHeader + SpiceLinkMess for the
 * main channel): the relay offers a connection to the page only once this
 * much has arrived, so relay tests that carry opaque bytes send it first.
 */
import { encodeLinkHeader, encodeLinkMess } from '../../src/protocol/link.ts';

const mess = encodeLinkMess({ connectionId: 0, channelType: 1, channelId: 0, commonCaps: [], channelCaps: [] });

/** Header + LinkMess bytes, as a client sends them first. */
export const LINK_HELLO: Buffer = Buffer.concat([encodeLinkHeader(mess.byteLength), mess]);
