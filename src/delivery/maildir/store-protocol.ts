// Messages between MaildirTarget and its write thread (store-worker.ts).

export interface StorePlace {
  /** tmp/ file to write (or link), then renamed to final in newDir. */
  tmp: string;
  final: string;
  newDir: string;
}

export interface StoreJob {
  id: number;
  /** Written in this order into the first tmp file (writev). */
  parts: Uint8Array[];
  /** A spooled body, copied after parts; null when the body is in parts. */
  spool: string | null;
  fsync: boolean;
  places: StorePlace[];
}

export type StoreReply = { id: number; error?: { code: string; message: string } };
