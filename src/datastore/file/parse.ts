/**
 * Reads the file datastore's multi-document YAML into model objects. Every problem carries the
 * file, the document index (from 0) and the line and column of the offending field, found through
 * the YAML node at the field's path (or its nearest parent when the field is missing).
 */
import { LineCounter, isNode, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import type { FieldPath, ValidationIssue } from '../errors.ts';
import { objectKey } from '../model.ts';
import type { ModelObject } from '../model.ts';
import { validateAny } from '../validate.ts';

export interface ParsedObject {
  object: ModelObject;
  document: number;
}

export type ParseResult = { ok: true; objects: ParsedObject[] } | { ok: false; issues: ValidationIssue[]; /** Some document is not even YAML. */ syntax: boolean };

function positionOf(doc: Document, path: FieldPath): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return doc.range?.[0] ?? 0;
}

export function parseObjectsFile(text: string, file: string): ParseResult {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const issues: ValidationIssue[] = [];
  const objects: ParsedObject[] = [];
  const seen = new Map<string, number>();
  let syntax = false;
  const at = (document: number, offset: number) => {
    const { line, col } = lines.linePos(offset);
    return { file, document, line, column: col };
  };
  // parseAllDocuments returns an EmptyStream (no documents) for an empty file.
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      syntax = true;
      for (const e of doc.errors) {
        issues.push({ path: [], message: `YAML: ${e.message.split('\n')[0]}`, position: at(index, e.pos[0]) });
      }
      return;
    }
    const raw: unknown = doc.toJS({ maxAliasCount: 100 });
    if (raw === null || raw === undefined) return; // an empty document ("---" alone)
    const result = validateAny(raw);
    if (!result.ok) {
      for (const i of result.issues) issues.push({ ...i, position: at(index, positionOf(doc, i.path)) });
      return;
    }
    const id = `${result.object.kind} ${objectKey(result.object)}`;
    const first = seen.get(id);
    if (first !== undefined) {
      issues.push({
        path: ['metadata', 'name'],
        message: `${id} is already defined in document ${first}`,
        position: at(index, positionOf(doc, ['metadata', 'name'])),
      });
      return;
    }
    seen.set(id, index);
    objects.push({ object: result.object, document: index });
  });
  return issues.length > 0 ? { ok: false, issues, syntax } : { ok: true, objects };
}
