// The root key objects in the token: one AES-256 object per version, all under one label.
import { endianness } from 'node:os';
import { TenancyError } from '../../../errors.ts';
import { pkcs11js, type Pkcs11 } from './pkcs11-module.ts';

type Handle = Buffer;

/**
 * Versions of the root key, newest last. One version normally has one object; two processes
 * that start (or rotate) at the same moment can each make one, so a version may hold several
 * and an unwrap tries each. Nothing here is ever per tenant.
 */
export type RootVersions = Map<number, Handle[]>;

/** `CKA_ID` of a version object: the version number in ASCII decimal (`1`, `2`, …). */
function versionOf(id: Buffer): number | undefined {
  const text = id.toString('latin1');
  if (!/^[1-9][0-9]{0,8}$/.test(text)) return undefined;
  return Number(text);
}

function readUlong(value: Buffer): number {
  if (value.length === 8) {
    return Number(endianness() === 'LE' ? value.readBigUInt64LE() : value.readBigUInt64BE());
  }
  return endianness() === 'LE' ? value.readUInt32LE() : value.readUInt32BE();
}

function unusable(detail: string): TenancyError {
  return new TenancyError('ROOT_KEY_INVALID', { params: { detail } });
}

function findAll(lib: Pkcs11, session: Handle, label: string): Handle[] {
  lib.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  try {
    const found: Handle[] = [];
    for (;;) {
      const batch = lib.C_FindObjects(session, 16);
      if (batch.length === 0) return found;
      found.push(...batch);
    }
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

/**
 * Every object under `label`, checked: a key someone made by hand with the same label must be
 * AES-256, sensitive and non-extractable, with a version number as its id, or the provider
 * refuses to start rather than wrap under a weaker key.
 */
export function listRootVersions(lib: Pkcs11, session: Handle, label: string): RootVersions {
  const versions: RootVersions = new Map();
  for (const handle of findAll(lib, session, label)) {
    const [id, keyType, length, sensitive, extractable] = lib.C_GetAttributeValue(session, handle, [
      { type: pkcs11js.CKA_ID }, { type: pkcs11js.CKA_KEY_TYPE }, { type: pkcs11js.CKA_VALUE_LEN },
      { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE },
    ]);
    const version = id === undefined ? undefined : versionOf(id.value);
    if (version === undefined) throw unusable('a root key object has no version number as id');
    if (keyType === undefined || readUlong(keyType.value) !== pkcs11js.CKK_AES
      || length === undefined || readUlong(length.value) !== 32) {
      throw unusable('a root key object is not an AES-256 key');
    }
    if (sensitive?.value[0] !== 1 || extractable?.value[0] !== 0) {
      throw unusable('a root key object is extractable or not sensitive');
    }
    const handles = versions.get(version) ?? [];
    handles.push(handle);
    versions.set(version, handles);
  }
  return new Map([...versions].sort(([a], [b]) => a - b));
}

/** Generates the object of root key `version` inside the token; its bytes never leave it. */
export function createRootVersion(
  lib: Pkcs11, session: Handle, label: string, version: number,
): Handle {
  return lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_MODIFIABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
    { type: pkcs11js.CKA_WRAP, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: Buffer.from(String(version), 'latin1') },
  ]);
}
