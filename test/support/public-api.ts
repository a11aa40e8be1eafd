/**
 * memkit's public API as the TypeScript compiler sees it: every class and
 * interface src/index.ts exports, with its public instance and static
 * members. Shared by the tests that must cover all of it (the sweeps of
 * test/memory/lost-buffer-api.test.ts, wasm-grow-api.test.ts and
 * test/workers/attach-api.test.ts through api-coverage.ts;
 * test/docs/api-docs.test.ts; test/memory/bad-values-api.test.ts), so a new
 * public member cannot be missed by any of them. `publicMethods` adds what
 * the bad-values sweep needs: each public method's parameters, by declared
 * type; `publicConstructors` what the bad-options sweep
 * (test/memory/bad-options-api.test.ts) needs: each public constructor and
 * static attach/create/wrap, with each property of its options types.
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

/** The Program over src/index.ts (with the repo's tsconfig options) and its checker, made once per test file. */
let compiled: { checker: ts.TypeChecker; exports: Array<{ name: string; sym: ts.Symbol }> } | undefined;

function compile(): NonNullable<typeof compiled> {
  if (compiled !== undefined) return compiled;
  const config = ts.readConfigFile(resolve(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const entry = resolve(ROOT, 'src/index.ts');
  const program = ts.createProgram([entry], { ...options, noEmit: true });
  const checker = program.getTypeChecker();
  const exports = checker
    .getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!)
    .map((exported) => ({
      name: exported.name,
      sym: exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported,
    }));
  compiled = { checker, exports };
  return compiled;
}

/** Every class and interface src/index.ts exports, with its public members (a Program over src: about 2 s). */
export function publicTypes(): PublicType[] {
  const { checker, exports } = compile();
  const out: PublicType[] = [];
  for (const { name, sym } of exports) {
    const isClass = (sym.flags & ts.SymbolFlags.Class) !== 0;
    if (!isClass && (sym.flags & ts.SymbolFlags.Interface) === 0) continue;
    out.push({
      name,
      isClass,
      members: checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym)).filter(isPublic),
      statics: isClass
        ? checker.getPropertiesOfType(checker.getTypeOfSymbol(sym)).filter((p) => p.name !== 'prototype' && isPublic(p))
        : [],
    });
  }
  return out;
}

/**
 * What a parameter's declared type is (undefined and null left out, a type
 * parameter read as its constraint): `number` (numbers, number literals and
 * number enums only), `function` (every part callable), `object` (every part
 * an object that is not callable: options, arrays, typed arrays, a Memory),
 * `other` (strings, booleans, `unknown`, mixed unions such as `Options | number`).
 */
export type ParamKind = 'number' | 'function' | 'object' | 'other';

/** One parameter of a public method, as declared. */
export interface PublicParam {
  readonly name: string;
  readonly kind: ParamKind;
  /** Optional, or with a default. */
  readonly optional: boolean;
  /** The declared type as the checker prints it. */
  readonly type: string;
}

/** A public method that takes parameters. */
export interface PublicMethod {
  /** As {@link memberName} writes it; a setter is `set name`. */
  readonly name: string;
  readonly isStatic: boolean;
  /**
   * The parameters of each public signature that has any: one per overload (an
   * implementation's signature, and an overload tagged `@internal`, left out).
   */
  readonly signatures: ReadonlyArray<readonly PublicParam[]>;
}

function paramKind(checker: ts.TypeChecker, declared: ts.Type): ParamKind {
  if (declared.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return 'other';
  let t = checker.getNonNullableType(declared);
  if (t.flags & ts.TypeFlags.TypeParameter) t = checker.getBaseConstraintOfType(t) ?? t;
  const parts = t.isUnion() ? t.types : [t];
  if (parts.every((p) => (p.flags & ts.TypeFlags.NumberLike) !== 0)) return 'number';
  if (parts.every((p) => p.getCallSignatures().length > 0)) return 'function';
  if (parts.every((p) => (p.flags & ts.TypeFlags.Object) !== 0 || (p.flags & ts.TypeFlags.Intersection) !== 0))
    return 'object';
  return 'other';
}

function paramsOf(checker: ts.TypeChecker, sig: ts.Signature): PublicParam[] {
  return sig.getParameters().map((p) => {
    const decl = p.valueDeclaration;
    const type = checker.getTypeOfSymbol(p);
    const optional =
      decl !== undefined &&
      ts.isParameter(decl) &&
      (decl.questionToken !== undefined || decl.initializer !== undefined);
    return { name: p.name, kind: paramKind(checker, type), optional, type: checker.typeToString(type) };
  });
}

/**
 * The public methods with parameters of every class and interface
 * src/index.ts exports, by exported name: each method (a member whose type
 * is callable: a method, or a field that holds a function), each setter and
 * each public static method, with its parameters by signature. Constructors
 * are left out (their options are swept option by option in the
 * bad-options tests).
 */
export function publicMethods(): Map<string, PublicMethod[]> {
  const { checker } = compile();
  const out = new Map<string, PublicMethod[]>();
  const methodsOf = (members: readonly ts.Symbol[], isStatic: boolean): PublicMethod[] => {
    const found: PublicMethod[] = [];
    for (const m of members) {
      const decl = m.valueDeclaration ?? m.declarations?.[0];
      if (decl === undefined) continue;
      if (m.flags & ts.SymbolFlags.SetAccessor) {
        const setter = m.declarations!.find(ts.isSetAccessorDeclaration);
        if (setter !== undefined && isPublicDeclaration(setter)) {
          const sig = checker.getSignatureFromDeclaration(setter)!;
          found.push({ name: `set ${memberName(m)}`, isStatic, signatures: [paramsOf(checker, sig)] });
        }
      }
      if (m.flags & ts.SymbolFlags.GetAccessor || m.flags & ts.SymbolFlags.SetAccessor) continue;
      const signatures = checker
        .getNonNullableType(checker.getTypeOfSymbolAtLocation(m, decl))
        .getCallSignatures()
        .filter((sig) => sig.declaration === undefined || isPublicDeclaration(sig.declaration))
        .map((sig) => paramsOf(checker, sig))
        .filter((params) => params.length > 0);
      if (signatures.length > 0) found.push({ name: memberName(m), isStatic, signatures });
    }
    return found;
  };
  for (const t of publicTypes()) out.set(t.name, [...methodsOf(t.members, false), ...methodsOf(t.statics, true)]);
  return out;
}

function isPublicDeclaration(d: ts.Declaration): boolean {
  return (
    (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0 &&
    !ts.getJSDocTags(d).some((t) => t.tagName.text === 'internal')
  );
}

/**
 * What an option's declared type is (undefined and null left out): `number`
 * (numbers and number literals), `boolean`, `string` (strings and string
 * literals), `function` (every part callable), `object` (every part an object
 * that is not callable), `union` (anything mixed, such as `Memory | number`).
 */
export type OptionKind = 'number' | 'boolean' | 'string' | 'function' | 'object' | 'union';

/** One property of an options type, as declared. */
export interface PublicOption {
  readonly name: string;
  readonly kind: OptionKind;
  readonly optional: boolean;
  /** The declared type as the checker prints it. */
  readonly type: string;
}

/** A parameter of a constructor (or of a static `attach`/`create`/`wrap`), with its options when it takes some. */
export interface ConstructorParam extends PublicParam {
  /**
   * When the parameter's declared type is an options object (object types
   * that are not callable, arrays, maps with an index signature, or class
   * instances such as a Memory or a BuddyAllocator), each of its object types
   * with its properties; else null.
   */
  readonly options: readonly OptionsVariant[] | null;
}

/** One object type of an options parameter (a union such as ArenaOptions has one per member), with its properties. */
export interface OptionsVariant {
  /** The type as the checker prints it (`ArenaBuddyOptions`). */
  readonly type: string;
  readonly props: readonly PublicOption[];
}

/** A public constructor, or a public static `attach`/`create`/`wrap`, of an exported class. */
export interface PublicConstructor {
  /** The exported class. */
  readonly cls: string;
  /** `constructor`, or the static's name. */
  readonly name: string;
  /** The parameters of each public signature (an implementation's signature, and `@internal` ones, left out). */
  readonly signatures: ReadonlyArray<readonly ConstructorParam[]>;
}

/** The statics that make an instance, whose options are swept like a constructor's. */
export const MAKERS: readonly string[] = ['attach', 'create', 'wrap'];

function optionKind(checker: ts.TypeChecker, declared: ts.Type): OptionKind {
  if (declared.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return 'union';
  const t = checker.getNonNullableType(declared);
  const parts = t.isUnion() ? t.types : [t];
  if (parts.every((p) => (p.flags & ts.TypeFlags.NumberLike) !== 0)) return 'number';
  if (parts.every((p) => (p.flags & ts.TypeFlags.BooleanLike) !== 0)) return 'boolean';
  if (parts.every((p) => (p.flags & ts.TypeFlags.StringLike) !== 0)) return 'string';
  if (parts.every((p) => p.getCallSignatures().length > 0)) return 'function';
  if (parts.every((p) => (p.flags & ts.TypeFlags.Object) !== 0 || (p.flags & ts.TypeFlags.Intersection) !== 0))
    return 'object';
  return 'union';
}

/** The object types of `declared` with their properties when it is an options object (see {@link ConstructorParam.options}), else null. */
function optionsOf(checker: ts.TypeChecker, declared: ts.Type): OptionsVariant[] | null {
  const t = checker.getNonNullableType(declared);
  const parts = t.isUnion() ? t.types : [t];
  const isOptions = (p: ts.Type): boolean => {
    if ((p.flags & ts.TypeFlags.Object) === 0) return false;
    if (p.getCallSignatures().length > 0 || p.getConstructSignatures().length > 0) return false;
    if (checker.isArrayType(p) || checker.isTupleType(p) || checker.getIndexInfosOfType(p).length > 0) return false;
    const sym = p.getSymbol();
    // A class instance (Memory, BuddyAllocator) or a buffer is an argument, not options.
    if (sym !== undefined && (sym.flags & ts.SymbolFlags.Class) !== 0) return false;
    return !(sym !== undefined && /(Array|Buffer|^Memory)$/.test(sym.name));
  };
  if (!parts.every(isOptions)) return null;
  return parts.map((p) => ({
    type: checker.typeToString(p),
    props: checker.getPropertiesOfType(p).map((o) => {
      const type = checker.getTypeOfSymbol(o);
      return {
        name: o.name,
        kind: optionKind(checker, type),
        optional: (o.flags & ts.SymbolFlags.Optional) !== 0,
        type: checker.typeToString(checker.getNonNullableType(type)),
      };
    }),
  }));
}

function constructorParamsOf(checker: ts.TypeChecker, sig: ts.Signature): ConstructorParam[] {
  const plain = paramsOf(checker, sig);
  return sig.getParameters().map((p, i) => ({ ...plain[i]!, options: optionsOf(checker, checker.getTypeOfSymbol(p)) }));
}

/**
 * The public constructors of every class src/index.ts exports (a class
 * whose constructor is private, protected or `@internal` has none here), and
 * each exported class's public static {@link MAKERS}, with their parameters
 * by signature and, for each options parameter, its properties by declared
 * kind: what the bad-options sweep goes through option by option.
 */
export function publicConstructors(): PublicConstructor[] {
  const { checker, exports } = compile();
  const out: PublicConstructor[] = [];
  for (const { name, sym } of exports) {
    if ((sym.flags & ts.SymbolFlags.Class) === 0) continue;
    const classType = checker.getTypeOfSymbol(sym);
    const ctors = classType
      .getConstructSignatures()
      .filter((sig) => sig.declaration === undefined || isPublicDeclaration(sig.declaration));
    if (ctors.length > 0)
      out.push({ cls: name, name: 'constructor', signatures: ctors.map((s) => constructorParamsOf(checker, s)) });
    for (const maker of MAKERS) {
      const m = checker.getPropertyOfType(classType, maker);
      if (m === undefined || !isPublic(m)) continue;
      const decl = m.valueDeclaration ?? m.declarations?.[0];
      if (decl === undefined) continue;
      const signatures = checker
        .getTypeOfSymbolAtLocation(m, decl)
        .getCallSignatures()
        .filter((sig) => sig.declaration === undefined || isPublicDeclaration(sig.declaration))
        .map((sig) => constructorParamsOf(checker, sig));
      out.push({ cls: name, name: maker, signatures });
    }
  }
  return out;
}
