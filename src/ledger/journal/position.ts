/**
 * Where a consumer stands in a stream: the record with `seq` has been
 * consumed, and the next one starts at byte `offset` of the segment file
 * whose first seq is `segment`.
 */
export interface Position { seq: number; segment: number; offset: number }

/** Before the first record. */
export const START: Position = Object.freeze({ seq: 0, segment: 0, offset: 0 });
