// `npm run containment-report` (as root): runs the jail-level attack catalogue (tests/attack/catalogue.ts,
// the same data the containment tests use) against real jails and prints
//   attack | expected | observed | host impact
// Host impact is measured after each attack: live processes of the jail's host uid, job cgroups,
// workspace mounts or directories left behind. Exits non-zero when any attack was not contained.
import Table from 'cli-table3';
import pc from 'picocolors';
import { JailHost } from '../src/jail/host.js';
import { ATTACKS, CONTROLS, type AttackCase } from '../tests/attack/catalogue.js';
import { leftovers, waitForNoZombies, type Leftovers } from '../tests/jail/helpers/leftovers.js';
import { mismatches, observed, runAttack } from '../tests/jail/helpers/run-attack.js';

const stateDir = process.env.CONFINE_REPORT_STATE_DIR ?? '/tmp/confine-report-state';
const host = await JailHost.open({ stateDir, uidBase: 1_950_400_000, uidCount: 256 });

function impact(left: Leftovers): string {
  const parts = [
    left.processes.length && `${left.processes.length} process(es)`,
    left.cgroups.length && `${left.cgroups.length} cgroup(s)`,
    left.mounts.length && `${left.mounts.length} mount(s)`,
    left.workspaceDirs.length && `${left.workspaceDirs.length} workspace dir(s)`,
  ].filter(Boolean);
  return parts.length === 0 ? 'none' : `LEFT: ${parts.join(', ')}`;
}

function expectedText(attack: AttackCase): string {
  const reasons = attack.expected.exitReasons.join(' | ');
  const stdout = attack.expected.stdout ? ` ${attack.expected.stdout.source.replace(/^\^|\$$/g, '')}` : '';
  const truncated = attack.expected.truncated ? ` + ${attack.expected.truncated} truncated` : '';
  return `${reasons}${stdout}${truncated}`;
}

const table = new Table({
  head: ['attack', 'threat', 'expected', 'observed', 'host impact'],
  wordWrap: true,
  colWidths: [34, 22, 34, 40, 14],
  ...(pc.isColorSupported ? {} : { style: { head: [], border: [] } }),
});
const uids = new Set<number>();
let failures = 0;
for (const attack of [...ATTACKS, ...CONTROLS]) {
  const run = await runAttack(host, attack, (uid) => uids.add(uid));
  const problems = mismatches(attack, run);
  const left = await leftovers(host, process.pid, new Set([run.hostUid]));
  const hostImpact = impact(left);
  const contained = problems.length === 0 && hostImpact === 'none';
  if (!contained) failures++;
  table.push([
    attack.name,
    attack.threat,
    expectedText(attack),
    (contained ? pc.green : pc.red)(observed(run) + (problems.length ? `\n${problems.join('; ')}` : '')),
    hostImpact === 'none' ? pc.green(hostImpact) : pc.red(hostImpact),
  ]);
}
const zombies = await waitForNoZombies(uids, stateDir);
console.log(table.toString());
console.log(`${ATTACKS.length} attacks, ${CONTROLS.length} controls: ${failures === 0 ? pc.green('all contained') : pc.red(`${failures} NOT contained`)}`);
console.log(`zombies of jail uids after host init reaped them: ${zombies.length === 0 ? 'none' : zombies.join(', ')}`);
console.log('Attacks needing host-side set-up (host listeners, setuid, symlinks, cross-job) run in tests/jail/escape.test.ts; parent death in tests/jail/parent-death.test.ts.');
process.exitCode = failures === 0 && zombies.length === 0 ? 0 : 1;
