// cli-table3 colours its head and borders itself, ignoring NO_COLOR and pipes: every table takes its style
// from here so colour follows picocolors' decision (a terminal, no NO_COLOR) like the rest of the output.
import pc from 'picocolors';

export function tableStyle(): { head: string[]; border: string[] } {
  return pc.isColorSupported ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] };
}
