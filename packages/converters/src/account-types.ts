/**
 * Source account types → MoneyKit account `type` (`depository.*`, `investment.*`, `liability.*`, `other.*`).
 * MoneyKit takes free text, so an unmapped type still imports as `other.<raw>` and is counted by the caller.
 */
import { lowerSnake } from './read';

export interface MappedType {
  type: string;
  /** Whether the source value was recognised (false → count it as unknown). */
  known: boolean;
  /** Debt accounts: MoneyKit reads a positive `current` as the amount owed. */
  liability: boolean;
}

type Table = Record<string, string>;

function lookup(table: Table, key: string, raw: string): MappedType {
  const type = table[key];
  if (type !== undefined) return { type, known: true, liability: type.startsWith('liability.') };
  return { type: `other.${lowerSnake(raw) || 'unknown'}`, known: false, liability: false };
}

/** Normalise vocabulary spellings ("money market", "MONEY_MARKET", "moneyMarket") to one key. */
function key(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
}

const PLAID_DEPOSITORY: Table = {
  checking: 'depository.checking',
  savings: 'depository.savings',
  hsa: 'depository.hsa',
  cd: 'depository.cd',
  moneymarket: 'depository.money_market',
  paypal: 'depository.paypal',
  prepaid: 'depository.prepaid',
  cashmanagement: 'depository.cash_management',
  ebt: 'depository.ebt',
};
const PLAID_CREDIT: Table = { creditcard: 'liability.credit_card', paypal: 'liability.credit_card' };
const PLAID_LOAN: Table = {
  auto: 'liability.auto_loan',
  student: 'liability.student_loan',
  mortgage: 'liability.mortgage',
  homeequity: 'liability.home_equity',
  lineofcredit: 'liability.line_of_credit',
  consumer: 'liability.personal_loan',
  business: 'liability.business_loan',
  commercial: 'liability.business_loan',
  construction: 'liability.loan',
  loan: 'liability.loan',
  overdraft: 'liability.line_of_credit',
  other: 'liability.loan',
};
const PLAID_INVESTMENT: Table = {
  '401k': 'investment.401k',
  '403b': 'investment.403b',
  '457b': 'investment.457b',
  '529': 'investment.529',
  ira: 'investment.ira',
  roth: 'investment.roth_ira',
  roth401k: 'investment.roth_401k',
  brokerage: 'investment.brokerage',
  hsa: 'investment.hsa',
  crypto: 'investment.crypto',
  cryptoexchange: 'investment.crypto',
  sepira: 'investment.ira',
  simpleira: 'investment.ira',
  pension: 'investment.pension',
  retirement: 'investment.retirement',
  mutualfund: 'investment.mutual_fund',
  stockplan: 'investment.stock_plan',
  trust: 'investment.trust',
  nontaxablebrokerageaccount: 'investment.brokerage',
  other: 'investment.other',
};

/** A subtype inside a known family: unmapped subtypes fall back to the family (counted as unknown). */
function inFamily(table: Table, sub: string, fallback: string): MappedType {
  const type = sub ? table[sub] : undefined;
  const chosen = type ?? fallback;
  return { type: chosen, known: !sub || type !== undefined, liability: chosen.startsWith('liability.') };
}

/** Plaid `type` + `subtype`. */
export function plaidAccountType(type: string, subtype: string | undefined): MappedType {
  const sub = key(subtype ?? '');
  switch (key(type)) {
    case 'depository':
      return inFamily(PLAID_DEPOSITORY, sub, 'depository.other');
    case 'credit':
      return inFamily(PLAID_CREDIT, sub, 'liability.credit_card');
    case 'loan':
      return inFamily(PLAID_LOAN, sub, 'liability.loan');
    case 'investment':
    case 'brokerage':
      // Plaid has ~57 investment subtypes: the family is known, so any subtype maps inside it.
      return {
        type: PLAID_INVESTMENT[sub] ?? (sub ? `investment.${lowerSnake(subtype!)}` : 'investment.other'),
        known: true,
        liability: false,
      };
    case 'other':
      return { type: 'other.other', known: true, liability: false };
    default:
      return lookup({}, '', subtype ? `${type}.${subtype}` : type);
  }
}

const MX_SUBTYPES: Table = {
  moneymarket: 'depository.money_market',
  certificateofdeposit: 'depository.cd',
  auto: 'liability.auto_loan',
  student: 'liability.student_loan',
  homeequity: 'liability.home_equity',
  heloc: 'liability.home_equity',
  personal: 'liability.personal_loan',
  plan401k: 'investment.401k',
  plan403b: 'investment.403b',
  plan529: 'investment.529',
  ira: 'investment.ira',
  rothira: 'investment.roth_ira',
  brokerage: 'investment.brokerage',
};
const MX_TYPES: Table = {
  checking: 'depository.checking',
  savings: 'depository.savings',
  cash: 'depository.cash',
  prepaid: 'depository.prepaid',
  creditcard: 'liability.credit_card',
  loan: 'liability.loan',
  lineofcredit: 'liability.line_of_credit',
  checkinglineofcredit: 'liability.line_of_credit',
  mortgage: 'liability.mortgage',
  investment: 'investment.other',
  insurance: 'other.insurance',
  property: 'other.property',
  any: 'other.other',
};
const MX_SUBTYPE_FAMILY: Record<string, string> = {
  SAVINGS: 'depository',
  CHECKING: 'depository',
  LOAN: 'liability',
  INVESTMENT: 'investment',
};

/** MX `type` (+ `subtype` when it refines it; "NONE" means none). */
export function mxAccountType(type: string, subtype: string | undefined): MappedType {
  const sub = subtype && key(subtype) !== 'none' ? MX_SUBTYPES[key(subtype)] : undefined;
  const family = MX_SUBTYPE_FAMILY[type.toUpperCase()];
  if (sub && family && sub.startsWith(family))
    return { type: sub, known: true, liability: sub.startsWith('liability.') };
  return lookup(MX_TYPES, key(type), type);
}

const YODLEE_BANK: Table = {
  checking: 'depository.checking',
  savings: 'depository.savings',
  cd: 'depository.cd',
  moneymarket: 'depository.money_market',
  prepaid: 'depository.prepaid',
  cashmanagement: 'depository.cash_management',
  healthsavingsaccount: 'depository.hsa',
  ira: 'investment.ira',
  otherdeposits: 'depository.other',
  others: 'depository.other',
};
const YODLEE_CREDIT: Table = {
  credit: 'liability.credit_card',
  store: 'liability.credit_card',
  charge: 'liability.credit_card',
  other: 'liability.credit_card',
};
const YODLEE_LOAN: Table = {
  mortgage: 'liability.mortgage',
  homeloan: 'liability.mortgage',
  autoloan: 'liability.auto_loan',
  studentloan: 'liability.student_loan',
  personalloan: 'liability.personal_loan',
  lineofcredit: 'liability.line_of_credit',
  homeequitylineofcredit: 'liability.home_equity',
  installmentloan: 'liability.loan',
  other: 'liability.loan',
};
const YODLEE_CONTAINER: Table = {
  bank: 'depository.other',
  creditcard: 'liability.credit_card',
  loan: 'liability.loan',
  investment: 'investment.other',
  insurance: 'other.insurance',
  reward: 'other.reward',
  bill: 'other.bill',
  realestate: 'other.property',
  otherassets: 'other.asset',
  otherliabilities: 'liability.other',
};

/** Yodlee `CONTAINER` + `accountType`. */
export function yodleeAccountType(container: string, accountType: string | undefined): MappedType {
  const c = key(container);
  const t = key(accountType ?? '');
  const raw = accountType ? `${container}.${accountType}` : container;
  const table =
    c === 'bank' ? YODLEE_BANK : c === 'creditcard' ? YODLEE_CREDIT : c === 'loan' ? YODLEE_LOAN : undefined;
  if (table) return inFamily(table, t, YODLEE_CONTAINER[c]!);
  // Investment has ~190 account types: a known container is enough to place it.
  if (c === 'investment' && t) return { type: `investment.${lowerSnake(accountType!)}`, known: true, liability: false };
  return lookup(YODLEE_CONTAINER, c, raw);
}

const FINICITY: Table = {
  checking: 'depository.checking',
  savings: 'depository.savings',
  cd: 'depository.cd',
  moneymarket: 'depository.money_market',
  prepaid: 'depository.prepaid',
  creditcard: 'liability.credit_card',
  lineofcredit: 'liability.line_of_credit',
  mortgage: 'liability.mortgage',
  loan: 'liability.loan',
  studentloan: 'liability.student_loan',
  autoloan: 'liability.auto_loan',
  homeequityloan: 'liability.home_equity',
  homeequitylineofcredit: 'liability.home_equity',
  investment: 'investment.other',
  investmenttaxdeferred: 'investment.other',
  ira: 'investment.ira',
  '401k': 'investment.401k',
  '403b': 'investment.403b',
  roth: 'investment.roth_ira',
  roth401k: 'investment.roth_401k',
  brokerageaccount: 'investment.brokerage',
  '529': 'investment.529',
  '529plan': 'investment.529',
  healthsavingsaccount: 'depository.hsa',
  cryptocurrency: 'investment.crypto',
  employeestockpurchaseplan: 'investment.stock_plan',
  '457plan': 'investment.457b',
  '401a': 'investment.401a',
  keogh: 'investment.keogh',
  sepira: 'investment.ira',
  simpleira: 'investment.ira',
  annuity: 'investment.annuity',
  insurance: 'other.insurance',
  rollover: 'investment.ira',
};

/** Finicity flat `type`. */
export function finicityAccountType(type: string): MappedType {
  return lookup(FINICITY, key(type), type);
}

const AKOYA: Table = {
  checking: 'depository.checking',
  savings: 'depository.savings',
  cd: 'depository.cd',
  moneymarket: 'depository.money_market',
  escrow: 'depository.other',
  prepaid: 'depository.prepaid',
  creditcard: 'liability.credit_card',
  charge: 'liability.credit_card',
  lineofcredit: 'liability.line_of_credit',
  homelineofcredit: 'liability.home_equity',
  mortgage: 'liability.mortgage',
  autoloan: 'liability.auto_loan',
  studentloan: 'liability.student_loan',
  installment: 'liability.loan',
  personalloan: 'liability.personal_loan',
  homeequityloan: 'liability.home_equity',
  loan: 'liability.loan',
  '401k': 'investment.401k',
  '403b': 'investment.403b',
  '529': 'investment.529',
  ira: 'investment.ira',
  roth: 'investment.roth_ira',
  rothira: 'investment.roth_ira',
  brokerageproduct: 'investment.brokerage',
  taxable: 'investment.brokerage',
  annuity: 'investment.annuity',
  hsa: 'depository.hsa',
  // Spellings beyond FDX's enum seen in Akoya's and FDX's published examples (README, "Real-world variants").
  brokerage: 'investment.brokerage',
  individual: 'investment.brokerage',
  joint: 'investment.brokerage',
  rollover: 'investment.ira',
  rolloverira: 'investment.ira',
  sepira: 'investment.ira',
  simpleira: 'investment.ira',
  '401a': 'investment.401a',
  '457b': 'investment.457b',
  keogh: 'investment.keogh',
  '529plan': 'investment.529',
  commercialloan: 'liability.business_loan',
  homeequity: 'liability.home_equity',
  heloc: 'liability.home_equity',
};
const AKOYA_FAMILY: Table = {
  deposit: 'depository.other',
  loan: 'liability.loan',
  loc: 'liability.line_of_credit',
  investment: 'investment.other',
  insurance: 'other.insurance',
  annuity: 'investment.annuity',
};

/** Akoya/FDX `accountType` (+ the family from the wrapper key: depositAccount, locAccount, ...). */
export function akoyaAccountType(accountType: string | undefined, family: string | undefined): MappedType {
  if (accountType && AKOYA[key(accountType)]) return lookup(AKOYA, key(accountType), accountType);
  const raw = accountType ?? family ?? 'unknown';
  if (family && AKOYA_FAMILY[key(family)]) {
    const mapped = lookup(AKOYA_FAMILY, key(family), raw);
    return accountType ? { ...mapped, known: false } : mapped;
  }
  return lookup({}, '', raw);
}
