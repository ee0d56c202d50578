import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const REPO = join(__dirname, '..', '..');

/** Source directories that ship (the daemon, drivers, uplink, headquarters, config, tools). */
export const SOURCE_DIRS = ['station', 'drivers', 'sync', 'config', 'tools'];

export interface SourceFile { path: string; text: string; ast: ts.SourceFile }

export function sourceFiles(dirs: string[] = SOURCE_DIRS): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(parse(relative(REPO, p), readFileSync(p, 'utf8')));
    }
  };
  for (const d of dirs) walk(join(REPO, d));
  return out;
}

export function parse(path: string, text: string): SourceFile {
  return { path, text, ast: ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS) };
}

export function visit(node: ts.Node, fn: (n: ts.Node) => void): void {
  fn(node);
  ts.forEachChild(node, (c) => visit(c, fn));
}

export function propertyNames(obj: ts.ObjectLiteralExpression): string[] {
  const names: string[] = [];
  for (const p of obj.properties) {
    if ((ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) names.push(p.name.text);
  }
  return names;
}

export function where(f: SourceFile, n: ts.Node): string {
  const { line } = f.ast.getLineAndCharacterOfPosition(n.getStart(f.ast));
  return `${f.path}:${line + 1}`;
}
