// The ledger's journal: node-local, append-only, durable. The gateway appends
// events here before it replies; an indexer reads them into the research store.
export { JournalWriter, type JournalWriterOptions, type JournalStats } from './writer.js';
export type { RecoverySummary } from './recover.js';
export type { JournalIo } from './io.js';
export { readStream, streamLag, type Damage, type JournalRecord, type ReadOptions, type ReadResult } from './reader.js';
export { removeSegments, type RemovedSegment } from './retention.js';
export { listStreams, validateName } from './names.js';
export { START, type Position } from './position.js';
export { MAX_PAYLOAD_BYTES } from './record.js';
