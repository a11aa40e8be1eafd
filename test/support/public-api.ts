/**
 * memkit's public API as the TypeScript compiler sees it: every class and
 * interface src/index.ts exports, with its public instance and static
 * members. Shared by the tests that must cover all of it
 * (test/memory/lost-buffer-api.test.ts, test/docs/api-docs.test.ts), so a new
 * public member cannot be missed by either.
 */
import { resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');

/** An exported class or interface and its public members. */
export interface PublicType {
  /** The name src/index.ts exports it under. */
  readonly name: string;
  readonly isClass: boolean;
  /** Public instance members, inherited ones too. */
  readonly members: readonly ts.Symbol[];
  /** Public static members (of a class; `prototype` left out). */
  readonly statics: readonly ts.Symbol[];
}

/** A member's name as a reader writes it: `[Symbol.dispose]` for a well-known symbol. */
export function memberName(p: ts.Symbol): string {
  const m = /^__@(\w+)@\d+$/.exec(p.escapedName as string);
  return m === null ? p.name : `[Symbol.${m[1]}]`;
}

/**
 * True when `p` is public API: one of its declarations (an overloaded
 * method's implementation does not count) has no `private`/`protected`
 * modifier, no `#` name and no `@internal` tag (tsconfig.build.json strips
 * those from the published types).
 */
export function isPublic(p: ts.Symbol): boolean {
  const decls = p.declarations ?? [];
  const signatures = decls.filter((d) => !(ts.isFunctionLike(d) && 'body' in d && d.body !== undefined));
  const shown = decls.length > 1 && signatures.length > 0 ? signatures : decls;
  return shown.some((d) => {
    const name = ts.getNameOfDeclaration(d);
    return (
      (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0 &&
      !(name !== undefined && ts.isPrivateIdentifier(name)) &&
      !ts.getJSDocTags(d).some((t) => t.tagName.text === 'internal')
    );
  });
}

/** Every class and interface src/index.ts exports, with its public members (a Program over src: about 2 s). */
export function publicTypes(): PublicType[] {
  const config = ts.readConfigFile(resolve(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const entry = resolve(ROOT, 'src/index.ts');
  const program = ts.createProgram([entry], { ...options, noEmit: true });
  const checker = program.getTypeChecker();
  const out: PublicType[] = [];
  for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!)) {
    const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const isClass = (sym.flags & ts.SymbolFlags.Class) !== 0;
    if (!isClass && (sym.flags & ts.SymbolFlags.Interface) === 0) continue;
    out.push({
      name: exported.name,
      isClass,
      members: checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym)).filter(isPublic),
      statics: isClass
        ? checker.getPropertiesOfType(checker.getTypeOfSymbol(sym)).filter((p) => p.name !== 'prototype' && isPublic(p))
        : [],
    });
  }
  return out;
}
