// The read side of the embedded store: the shared chunk reader
// (../chunk-reader.ts) over the SQLite tables (source.ts).
import { ChunkReader } from '../chunk-reader.js';
import { SqliteChunkSource } from './source.js';

export class SqliteStoreReader extends ChunkReader {
  /** page: sessions per step of a walk (small in tests, to walk many pages). */
  constructor(readonly path: string, page?: number) {
    super(new SqliteChunkSource(path), page);
  }
}
