/** The company's own user record that wraps most envelopes: `{ id, email?, phone?, phone_country? }`. */
import type { UserContact } from '../builder';
import { id, obj, optStr } from '../read';

export function readUserContact(raw: unknown, path: string): UserContact {
  const u = obj(raw, path);
  return {
    id: id(u.id, `${path}.id`),
    email: optStr(u.email, `${path}.email`),
    phone: optStr(u.phone, `${path}.phone`),
    phoneCountry: optStr(u.phone_country, `${path}.phone_country`),
  };
}
