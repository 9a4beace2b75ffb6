import type { FastifyReply } from 'fastify';
import type { BlobDownload } from './blob-store.ts';

/**
 * Answers a download: 206 with `Content-Range` when a range was served, 200 otherwise, with the
 * length of what is sent. The one copy of the range reply, for every route that serves a blob
 * (a range outside the blob never gets here: the store throws `range_not_satisfiable`, whose
 * problem carries `Content-Range: bytes *\/size`).
 */
export function sendBlob(reply: FastifyReply, download: BlobDownload): FastifyReply {
  if (download.range) {
    reply
      .code(206)
      .header('Content-Range', `bytes ${download.range.start}-${download.range.end}/${download.totalBytes}`)
      .header('Content-Length', String(download.range.end - download.range.start + 1));
  } else {
    reply.header('Content-Length', String(download.totalBytes));
  }
  return reply.send(download.stream);
}
