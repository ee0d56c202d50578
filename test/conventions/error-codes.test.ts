import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ALL_ERROR_CODES, ERR, ERROR_CODES, errorLayer, isErrorCode, renderErrorDocs } from '../../config/error-codes';
import { StationError, UsageError } from '../../config/errors';
import { parse, REPO, sourceFiles, visit, where, type SourceFile } from './source-scan';

/** Codes of other systems the sources compare against (errno, SQLite, OpenSSL/X.509, PC/SC, Node). */
const FOREIGN = /^(E[A-Z0-9]+|SQLITE_\w+|ERR_\w+|SCARD_\w+|\w*CERT\w*|UNABLE_\w+|MODULE_NOT_FOUND)$/;
const CODE_SHAPE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;
const MODULE = 'config/error-codes.ts';
/** Error classes whose first constructor argument is the code (the others extending StationError fix theirs with super). */
const CODE_FIRST = new Set(['StationError', 'DisconnectedError', 'DeviceTimeoutError']);

function isCodeProperty(n: ts.Node): boolean {
  return (ts.isPropertyAssignment(n) || ts.isPropertyDeclaration(n)) && ts.isIdentifier(n.name) && n.name.text === 'code';
}
function accessesCode(n: ts.Expression): boolean {
  return (ts.isPropertyAccessExpression(n) || ts.isPropertyAccessChain(n)) && n.name.text === 'code';
}

/**
 * String literals that stand where an error code goes: the code argument of an error's
 * constructor (first; UsageError's third), a `code:` property, a comparison with `.code`,
 * the code given to a helper named like an error factory (httpish, wireError, fail).
 */
function codesInErrorPositions(files: SourceFile[]): { code: string; at: string }[] {
  const out: { code: string; at: string }[] = [];
  const take = (f: SourceFile, e: ts.Node | undefined): void => {
    if (!e) return;
    if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) { out.push({ code: e.text, at: where(f, e) }); return; }
    if (ts.isConditionalExpression(e)) { take(f, e.whenTrue); take(f, e.whenFalse); }
    if (ts.isParenthesizedExpression(e)) take(f, e.expression);
    if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.BarBarToken) take(f, e.right);
    if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken) take(f, e.right);
  };
  for (const f of files) {
    visit(f.ast, (n) => {
      if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && /Error$/.test(n.expression.text)) {
        const name = n.expression.text;
        if (name === 'UsageError') take(f, n.arguments?.[2]);
        else if (name === 'HttpError') take(f, n.arguments?.[1]);
        else if (CODE_FIRST.has(name)) take(f, n.arguments?.[0]);
      }
      if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && /^(httpish|wireError|fail)$/.test(n.expression.text)) take(f, n.arguments[0]);
      if (isCodeProperty(n)) take(f, (n as ts.PropertyAssignment).initializer);
      if (ts.isBinaryExpression(n) && [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken].includes(n.operatorToken.kind)) {
        if (accessesCode(n.left)) take(f, n.right);
        if (accessesCode(n.right)) take(f, n.left);
      }
    });
  }
  return out;
}

/** Every code-shaped string literal (and ERR.X) outside the module itself: where a code is used. */
function codeShapedLiterals(files: SourceFile[]): Set<string> {
  const seen = new Set<string>();
  for (const f of files) {
    if (f.path === MODULE) continue;
    visit(f.ast, (n) => {
      if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) && CODE_SHAPE.test(n.text)) seen.add(n.text);
      if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'ERR') seen.add(n.name.text);
    });
  }
  return seen;
}

// super(...) in an error subclass: a plain call named 'super' is a SuperKeyword call.
function superCodes(files: SourceFile[]): { code: string; at: string }[] {
  const out: { code: string; at: string }[] = [];
  for (const f of files) visit(f.ast, (n) => {
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword) {
      const a = n.arguments[0];
      if (a && ts.isStringLiteral(a) && CODE_SHAPE.test(a.text) && a.text.includes('_')) out.push({ code: a.text, at: where(f, a) });
    }
  });
  return out;
}

describe('error codes', () => {
  const files = sourceFiles();

  it('every code the sources raise, return or compare is declared in config/error-codes.ts', () => {
    const used = [...codesInErrorPositions(files), ...superCodes(files)].filter((u) => CODE_SHAPE.test(u.code) && !FOREIGN.test(u.code));
    expect(used.length).toBeGreaterThan(150); // the scan reaches the code base
    expect(used.filter((u) => !isErrorCode(u.code)).map((u) => `${u.at} ${u.code}`)).toEqual([]);
  });

  it('every declared code is used somewhere in the sources', () => {
    const seen = codeShapedLiterals(files);
    expect(ALL_ERROR_CODES.filter((c) => !seen.has(c))).toEqual([]);
  });

  it('the scan catches an undeclared code in each position', () => {
    const bad = parse('x.ts', [
      "throw new StationError('FP_MADE_UP', 'x');",
      "throw new UsageError('x', undefined, 'USAGE_MADE_UP');",
      "const r = { ok: false, code: 'CMD_MADE_UP' };",
      "if (e.code === 'VAULT_MADE_UP') {}",
      "throw httpish('WORKFLOW_MADE_UP', 'x');",
      "if (e.code === 'ENOSPC') {}",
    ].join('\n'));
    const found = codesInErrorPositions([bad]).filter((u) => !FOREIGN.test(u.code) && !isErrorCode(u.code)).map((u) => u.code);
    expect(found).toEqual(['FP_MADE_UP', 'USAGE_MADE_UP', 'CMD_MADE_UP', 'VAULT_MADE_UP', 'WORKFLOW_MADE_UP']);
  });

  it('codes are unique across layers, each has a meaning and an action, and prefixes match their layer', () => {
    const all = Object.values(ERROR_CODES).flatMap((g) => Object.keys(g));
    expect(new Set(all).size).toBe(all.length);
    for (const [layer, g] of Object.entries(ERROR_CODES)) {
      for (const [code, [meaning, action]] of Object.entries(g as Record<string, readonly [string, string]>)) {
        expect(meaning.length, code).toBeGreaterThan(10);
        expect(action.length, code).toBeGreaterThan(3);
        expect(errorLayer(code as keyof typeof ERR)).toBe(layer);
      }
    }
    const prefixes: Record<string, RegExp> = {
      'drivers/fingerprint': /^FP_/, 'drivers/card': /^CARD_/, 'drivers/camera': /^CAM_/, 'drivers/gpio': /^GPIO_/, 'drivers/power': /^POWER_/,
      vault: /^VAULT_/, kiosk: /^KIOSK_/, uplink: /^CMD_/, wire: /^WIRE_/, hq: /^HQ_/,
    };
    for (const [layer, re] of Object.entries(prefixes)) for (const c of Object.keys(ERROR_CODES[layer as keyof typeof ERROR_CODES])) expect(c, layer).toMatch(re);
  });

  it('the error class carries the typed code and the constants equal their names', () => {
    const e = new StationError(ERR.VAULT_DISK_FULL, 'full');
    expect(e.code).toBe('VAULT_DISK_FULL');
    expect(new UsageError('bad').code).toBe(ERR.USAGE);
    expect(Object.entries(ERR).every(([k, v]) => k === v)).toBe(true);
    expect(isErrorCode('NOT_A_CODE')).toBe(false);
  });

  it('docs/errors.md is the rendering of the module (run `npm run docs:errors` after a change)', () => {
    expect(readFileSync(join(REPO, 'docs', 'errors.md'), 'utf8')).toBe(renderErrorDocs());
  });
});
