import { badRequest } from './api-error.js';

/** One part of a multipart/form-data body: a file upload has a filename. */
export interface FormPart {
  filename?: string;
  data: Buffer;
}

export type FormParts = Record<string, FormPart>;

/** Parses a multipart/form-data body (with Node's own parser, the one behind fetch's Response). */
export async function parseMultipart(raw: Buffer, contentType: string): Promise<FormParts> {
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    const given = contentType.slice(0, 64).replace(/[^\x20-\x7e]/g, '?') || 'unspecified';
    throw badRequest(`the request body must be multipart/form-data, not '${given}'`);
  }
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { 'Content-Type': contentType } }).formData();
  } catch (err) {
    throw badRequest(`request body is not valid multipart/form-data: ${(err as Error).message}`);
  }
  const parts: FormParts = {};
  for (const [name, v] of form.entries()) {
    parts[name] = typeof v === 'string' ? { data: Buffer.from(v) } : { filename: v.name, data: Buffer.from(await v.arrayBuffer()) };
  }
  return parts;
}
