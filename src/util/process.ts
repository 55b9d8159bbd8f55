/** Whether a process with this PID exists (EPERM: it does, under another user). Not a PID (0, negative, NaN from a damaged lock file): no. */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
