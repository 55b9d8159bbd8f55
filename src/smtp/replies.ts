// The gateway's own replies, each named once (RFC 3463 enhanced codes).
// Checks carry theirs in their verdicts; these are the session's and the
// delivery's.
import type { LimitKind } from './connection.js';
import type { Reply } from '../mail/reply.js';

// RFC 3463 4.3.0 / RFC 5321 451: our fault, the sender should retry.
export const LEDGER_DOWN: Reply = { code: 451, enhanced: '4.3.0', text: 'Temporary local problem; please try again later' };
export const SHUTTING_DOWN: Reply = { code: 421, enhanced: '4.3.2', text: 'Service shutting down; please try again later' };
export const ACCEPTED: Reply = { code: 250, enhanced: '2.0.0', text: 'Message accepted and stored' };
// RFC 5321 section 2.3.8 (CR and LF only as CRLF), RFC 3463 5.6.0 (the content).
export const BARE_LINE_ENDS: Reply = { code: 550, enhanced: '5.6.0', text: 'Message refused: it has a line end that is a bare CR or LF instead of CRLF (RFC 5321 section 2.3.8); please send standard CRLF line ends' };
export const TOO_MANY_RCPTS: Reply = { code: 452, enhanced: '4.5.3', text: 'Too many recipients for one message; send the rest in another message' };

/** The 421 for each session limit; the connection closes after it. */
export const LIMIT_REPLIES: Record<LimitKind, Reply> = {
  commands: { code: 421, enhanced: '4.7.0', text: 'Too many commands in one session; closing' },
  session_time: { code: 421, enhanced: '4.4.2', text: 'Session time limit reached; closing' },
  idle: { code: 421, enhanced: '4.4.2', text: 'Idle timeout; closing' },
  line_length: { code: 421, enhanced: '4.5.0', text: 'Command line too long; closing' },
  early_talker: { code: 421, enhanced: '4.7.0', text: 'Protocol error: commands were sent before the greeting' },
  // RFC 5321 section 4.5.3.2: timeouts are the server's to set; 4.4.2 "bad connection".
  command_time: { code: 421, enhanced: '4.4.2', text: 'Command line took too long to arrive; closing' },
  time_to_data: { code: 421, enhanced: '4.4.2', text: 'Too long without sending a message; closing, please reconnect when ready' },
};
