import { describe, expect, it } from 'vitest';
import ts from 'typescript';
import { parse, propertyNames, sourceFiles, visit, where, type SourceFile } from './source-scan';

/**
 * One log context key: every child logger names the part it speaks for with
 * `component` (issue #16 item 6). The older keys must not come back, neither as
 * a binding nor as a field of a log call, where a reader filtering on
 * `component` would miss them.
 */
const CONTEXT_KEY = 'component';
const RETIRED_KEYS = ['mod', 'dev', 'sim', 'module'];
/** A child that only adds these (the station id at the root) need not name a component. */
const NON_COMPONENT_BINDINGS = new Set(['station']);
const LOG_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

interface Finding { at: string; problem: string }

function check(files: SourceFile[]): { children: number; findings: Finding[] } {
  const findings: Finding[] = [];
  let children = 0;
  for (const f of files) {
    visit(f.ast, (n) => {
      if (!ts.isCallExpression(n) || !ts.isPropertyAccessExpression(n.expression)) return;
      const method = n.expression.name.text;
      const arg = n.arguments[0];
      if (!arg || !ts.isObjectLiteralExpression(arg)) return;
      const keys = propertyNames(arg);
      if (method === 'child') {
        children++;
        if (!keys.includes(CONTEXT_KEY) && !keys.every((k) => NON_COMPONENT_BINDINGS.has(k))) {
          findings.push({ at: where(f, n), problem: `child logger without '${CONTEXT_KEY}' (keys: ${keys.join(', ')})` });
        }
      }
      if (method === 'child' || LOG_METHODS.has(method)) {
        for (const k of keys) if (RETIRED_KEYS.includes(k)) findings.push({ at: where(f, n), problem: `log key '${k}': use '${CONTEXT_KEY}'` });
      }
    });
  }
  return { children, findings };
}

describe('log context key', () => {
  it(`every child logger in the sources is bound with '${CONTEXT_KEY}' and no retired key appears`, () => {
    const { children, findings } = check(sourceFiles());
    expect(children).toBeGreaterThan(20); // the scan really reaches the code base
    expect(findings).toEqual([]);
  });

  it('the check catches each retired key and a child without a component', () => {
    const bad = parse('x.ts', [
      "log.child({ mod: 'uplink' });",
      "log.child({ dev: 'fingerprint', component: 'x' });",
      "log.child({ model: 'r307' });",
      "log.debug({ sim: 'r307' }, 'x');",
      "log.child({ station: 'b1' });",
    ].join('\n'));
    const { findings } = check([bad]);
    expect([...new Set(findings.map((x) => x.at))]).toEqual(['x.ts:1', 'x.ts:2', 'x.ts:3', 'x.ts:4']);
    expect(findings.some((x) => x.problem.includes("'mod'"))).toBe(true);
  });
});
