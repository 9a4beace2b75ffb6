import nodemailer, { type Transporter } from 'nodemailer';

const transports = new Map<string, Transporter>();

/** One pooled transport per SMTP URL and process. */
function transportFor(smtpUrl: string): Transporter {
  let transport = transports.get(smtpUrl);
  if (!transport) {
    transport = nodemailer.createTransport(smtpUrl);
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
  const info: { messageId?: string } = await transportFor(smtpUrl).sendMail(mail);
  return info.messageId ?? null;
}
