/**
 * The link stage every channel connection goes through (spice-server's
 * `reds_handle_read_link_done` / `reds_handle_ticket`): header, LinkMess, our
 * LinkReply with the RSA key, auth mechanism, ticket, link result.
 */
import { AuthMechanism, CommonCap, LinkError } from '../protocol/constants.ts';
import {
  LINK_AUTH_MECH_SIZE,
  LINK_HEADER_SIZE,
  LINK_TICKET_SIZE,
  capsFromBits,
  checkLinkHeader,
  decodeLinkHeader,
  decodeLinkMess,
  encodeLinkErrorReply,
  encodeLinkReply,
  encodeLinkResult,
  hasCap,
  type LinkMess,
} from '../protocol/link.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { StreamReader } from './stream-reader.ts';
import { decryptTicket, type TicketKey, type TicketVerdict } from './ticket.ts';

/** The common caps this server advertises: AUTH_SELECTION | AUTH_SPICE | MINI_HEADER = 0x0B. */
export const SERVER_COMMON_CAPS = capsFromBits([
  CommonCap.PROTOCOL_AUTH_SELECTION,
  CommonCap.AUTH_SPICE,
  CommonCap.MINI_HEADER,
]);

export interface LinkPolicy {
  readonly key: TicketKey;
  /** Decides on the decrypted ticket (null: it did not decrypt). */
  checkTicket(password: string | null): Promise<TicketVerdict>;
  /** LinkError.OK, or why this channel cannot be linked (checked before the reply). */
  checkChannel(mess: LinkMess): LinkError;
  /** LinkError.OK, or why the session cannot take it (checked after the ticket). */
  checkSession(mess: LinkMess): LinkError;
  /** Channel caps the server advertises for this channel type. */
  channelCaps(channelType: number): number[];
}

export interface LinkResult {
  mess: LinkMess;
  /** Both sides advertised MINI_HEADER. */
  miniHeader: boolean;
}

/** The link failed; the error code (if any) has already been sent. */
export class LinkFailure extends Error {
  constructor(
    readonly code: LinkError,
    reason: string,
  ) {
    super(reason);
    this.name = 'LinkFailure';
  }
}

/** The relay gives clients 10 s to authenticate; a page behind no relay still bounds the link. */
const LINK_TIMEOUT_MS = 15_000;

/** Runs the link stage; resolves when the client got link result OK. */
export async function runLinkStage(reader: StreamReader, policy: LinkPolicy): Promise<LinkResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LinkFailure(LinkError.ERROR, `link not completed within ${LINK_TIMEOUT_MS} ms`)),
      LINK_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([link(reader, policy), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function link(reader: StreamReader, policy: LinkPolicy): Promise<LinkResult> {
  const send = (b: Uint8Array): void => reader.stream.send(b);
  const header = decodeLinkHeader(await reader.read(LINK_HEADER_SIZE));
  const verdict = checkLinkHeader(header);
  if (verdict.error !== LinkError.OK) {
    send(encodeLinkErrorReply(verdict.error));
    throw new LinkFailure(verdict.error, verdict.reason);
  }
  let mess: LinkMess;
  try {
    mess = decodeLinkMess(await reader.read(header.size));
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    send(encodeLinkErrorReply(LinkError.INVALID_DATA));
    throw new LinkFailure(LinkError.INVALID_DATA, e.message);
  }
  const channelVerdict = policy.checkChannel(mess);
  if (channelVerdict !== LinkError.OK) {
    send(encodeLinkErrorReply(channelVerdict));
    throw new LinkFailure(channelVerdict, `channel ${mess.channelType}:${mess.channelId} not available`);
  }
  send(
    encodeLinkReply({
      error: LinkError.OK,
      pubKey: policy.key.spki,
      commonCaps: SERVER_COMMON_CAPS,
      channelCaps: policy.channelCaps(mess.channelType),
    }),
  );
  // A client that knows auth selection sends the chosen mechanism first.
  if (hasCap(mess.commonCaps, CommonCap.PROTOCOL_AUTH_SELECTION)) {
    const mech = new DataView((await reader.read(LINK_AUTH_MECH_SIZE)).buffer).getUint32(0, true);
    if (mech !== AuthMechanism.SPICE) {
      send(encodeLinkResult(LinkError.INVALID_DATA));
      throw new LinkFailure(LinkError.INVALID_DATA, `auth mechanism ${mech}, expected ${AuthMechanism.SPICE} (SPICE ticket)`);
    }
  }
  const ticket = await reader.read(LINK_TICKET_SIZE);
  const auth = await policy.checkTicket(await decryptTicket(policy.key, ticket));
  if (!auth.ok) {
    send(encodeLinkResult(LinkError.PERMISSION_DENIED));
    throw new LinkFailure(LinkError.PERMISSION_DENIED, `permission denied: ${auth.reason}`);
  }
  const sessionVerdict = policy.checkSession(mess);
  if (sessionVerdict !== LinkError.OK) {
    send(encodeLinkResult(sessionVerdict));
    throw new LinkFailure(sessionVerdict, `connection id ${mess.connectionId} refused (link error ${sessionVerdict})`);
  }
  send(encodeLinkResult(LinkError.OK));
  return { mess, miniHeader: hasCap(mess.commonCaps, CommonCap.MINI_HEADER) };
}
