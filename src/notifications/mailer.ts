import type { Transporter } from 'nodemailer';

const transports = new Map<string, Transporter>();

/** One pooled transport per SMTP URL and process. */
async function transportFor(smtpUrl: string): Promise<Transporter> {
  let transport = transports.get(smtpUrl);
  if (!transport) {
    // Loaded at the first mail: most processes never send one.
    const { default: nodemailer } = await import('nodemailer');
    transport = transports.get(smtpUrl) ?? nodemailer.createTransport(smtpUrl);
    transports.set(smtpUrl, transport);
  }
  return transport;
}

export interface PlainMail {
  from: string;
  to: string;
  subject: string;
  text: string;
}

/** Sends a plain-text mail; answers the server's message id. */
export async function sendPlainMail(smtpUrl: string, mail: PlainMail): Promise<string | null> {
  const info: { messageId?: string } = await (await transportFor(smtpUrl)).sendMail(mail);
  return info.messageId ?? null;
}
