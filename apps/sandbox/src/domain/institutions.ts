/**
 * What MoneyKit derives from an import request: the institution's display name, the provider, and the
 * normalized account type. The sandbox has no institution directory, so names come from a small table of
 * well-known ids and otherwise from the id itself.
 */
import { PROVIDERS, type Provider } from '@mk/shared';

const KNOWN_NAMES: Record<string, string> = {
  chase: 'Chase',
  bofa: 'Bank of America',
  bank_of_america: 'Bank of America',
  wells_fargo: 'Wells Fargo',
  wellsfargo: 'Wells Fargo',
  citi: 'Citibank',
  capital_one: 'Capital One',
  us_bank: 'U.S. Bank',
  pnc: 'PNC',
  amex: 'American Express',
  schwab: 'Charles Schwab',
  ally: 'Ally Bank',
};

/** `mx.chase` → { provider: 'mx', localId: 'chase' }; a bare MoneyKit id has no provider prefix. */
export function splitInstitutionId(institutionId: string): { provider?: Provider; localId: string } {
  const dot = institutionId.indexOf('.');
  const prefix = dot > 0 ? institutionId.slice(0, dot) : '';
  if ((PROVIDERS as readonly string[]).includes(prefix))
    return { provider: prefix as Provider, localId: institutionId.slice(dot + 1) };
  return { localId: institutionId };
}

export function institutionName(institutionId: string): string {
  const { localId } = splitInstitutionId(institutionId);
  const key = localId.toLowerCase();
  if (KNOWN_NAMES[key]) return KNOWN_NAMES[key]!;
  if (/^\d+$/.test(localId)) return `Institution ${localId}`;
  return localId
    .split(/[_\-\s.]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(' ');
}

export function institutionProvider(institutionId: string, requested?: Provider): Provider {
  return requested ?? splitInstitutionId(institutionId).provider ?? 'moneykit';
}

export function institutionAvatar(institutionId: string): string {
  return `https://sandbox.moneykit.invalid/institutions/${encodeURIComponent(institutionId)}/avatar.png`;
}

const TYPE_WORDS: Array<[RegExp, string]> = [
  [/credit.?card|^credit$/, 'liability.credit_card'],
  [/mortgage/, 'liability.mortgage'],
  [/student/, 'liability.student'],
  [/loan|line.?of.?credit|heloc/, 'liability.loan'],
  [/checking/, 'depository.checking'],
  [/savings/, 'depository.savings'],
  [/money.?market/, 'depository.money_market'],
  [/\bcd\b|certificate/, 'depository.cd'],
  [/prepaid/, 'depository.prepaid'],
  [/401k|403b|ira|roth|retirement/, 'investment.retirement'],
  [/brokerage|investment|securities/, 'investment.brokerage'],
  [/depository|cash|deposit/, 'depository.cash'],
];

/** Free text in, MoneyKit's `<group>.<kind>` out; already-normalized values pass through. */
export function normalizeAccountType(type: string): string {
  const t = type.trim().toLowerCase();
  if (/^(depository|investment|liability|other)\.[a-z0-9_]+$/.test(t)) return t;
  for (const [pattern, normalized] of TYPE_WORDS) if (pattern.test(t)) return normalized;
  return 'unknown';
}
