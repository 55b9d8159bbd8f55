/** "host:port" or "[v6]:port" of a listen address (smtp.listen, pop3.listen, web.listen). */
export function splitHostPort(hp: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hp);
  if (!m) throw new Error(`bad listen address ${hp}`);
  return { host: m[1]!, port: Number(m[2]) };
}
