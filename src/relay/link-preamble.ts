/**
 * The one thing the relay reads of SPICE: how long a client's opening link
 * request is (SpiceLinkHeader + SpiceLinkMess). A connection is offered to
 * the page only once that much has arrived, so a client that trickles bytes
 * (slowloris) never costs the page a socket.
 */
import { checkLinkHeader, decodeLinkHeader, LINK_HEADER_SIZE } from '../protocol/link.ts';
import { LinkError } from '../protocol/constants.ts';

/**
 * Bytes the opening request takes, judged from its first bytes: null while
 * the header is incomplete; header + LinkMess size for a valid header; just
 * the header for an invalid one (the page answers it with the link error).
 */
export function linkPreambleLength(head: Uint8Array): number | null {
  if (head.byteLength < LINK_HEADER_SIZE) return null;
  const header = decodeLinkHeader(head.subarray(0, LINK_HEADER_SIZE));
  if (checkLinkHeader(header).error !== LinkError.OK) return LINK_HEADER_SIZE;
  return LINK_HEADER_SIZE + header.size;
}
