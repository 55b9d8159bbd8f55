// mailsplit ships no type declarations; these cover what we use.
declare module 'mailsplit/lib/headers.js' {
  export default class Headers {
    constructor(headers: Buffer | string);
    get(key: string): string[];
    getFirst(key: string): string;
    getDecoded(key: string): { key: string; value: string }[];
  }
}

declare module 'libmime' {
  const libmime: {
    decodeWords(s: string): string;
    parseHeaderValue(s: string): { value: string; params: Record<string, string> };
  };
  export default libmime;
}
