import { ERRORS } from '../errors/catalog.ts';
import { contentTypeForFileName, supportedContentType, type SupportedContentType } from '../processing/content-types.ts';

/** Which content types may be uploaded: supported by processing and allowed by configuration. */
export class ContentPolicy {
  constructor(private readonly allowedContentTypes: readonly string[]) {}

  /** The supported, allowed type of a part; `application/octet-stream` is resolved by extension. */
  acceptedType(declared: string, filename: string): SupportedContentType {
    const essence = declared.split(';', 1)[0]?.trim().toLowerCase() ?? '';
    const type =
      essence === 'application/octet-stream' || essence === ''
        ? contentTypeForFileName(filename)
        : supportedContentType(declared);
    if (!type || !this.allowedContentTypes.includes(type.mime)) {
      throw ERRORS.unsupportedMediaType(
        `${filename}: ${essence || 'no content type'} is not accepted; allowed: ${this.allowedContentTypes.join(', ')}.`,
      );
    }
    return type;
  }
}
