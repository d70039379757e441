/**
 * Source categories → MoneyKit transaction `type`: free text `category[.subcategory]` in lower_snake.
 * Primaries follow MoneyKit's published examples (`food_and_drink.coffee_shops`, `income.wages`,
 * `transfer.account_transfer`, `fee.*`); the subcategory keeps the source's own word. A category the
 * tables do not know still imports as its lower_snake text and is reported (`known: false`).
 */
import { lowerSnake } from './read';

export interface MappedCategory {
  type: string;
  known: boolean;
  /** The source value, for the unknown-categories report. */
  raw: string;
}

function join(primary: string, sub: string | undefined): string {
  return sub && sub !== primary ? `${primary}.${sub}` : primary;
}

const PLAID_PRIMARIES = new Set([
  'income',
  'transfer_in',
  'transfer_out',
  'loan_payments',
  'loan_disbursements',
  'bank_fees',
  'entertainment',
  'food_and_drink',
  'general_merchandise',
  'home_improvement',
  'medical',
  'personal_care',
  'general_services',
  'government_and_non_profit',
  'transportation',
  'travel',
  'rent_and_utilities',
  'other',
]);
const PLAID_LEGACY_PRIMARIES: Record<string, string> = {
  bank_fees: 'bank_fees',
  cash_advance: 'transfer_in',
  community: 'government_and_non_profit',
  food_and_drink: 'food_and_drink',
  healthcare: 'medical',
  interest: 'income',
  payment: 'loan_payments',
  recreation: 'entertainment',
  service: 'general_services',
  shops: 'general_merchandise',
  tax: 'government_and_non_profit',
  transfer: 'transfer',
  travel: 'travel',
};

/** Plaid `personal_finance_category` {primary, detailed} (v1 or v2), else the deprecated `category[]`. */
export function plaidCategory(
  pfcPrimary: string | undefined,
  pfcDetailed: string | undefined,
  legacy: string[] | undefined,
): MappedCategory | undefined {
  if (pfcPrimary) {
    const primary = lowerSnake(pfcPrimary);
    let detailed = pfcDetailed ? lowerSnake(pfcDetailed) : undefined;
    if (detailed?.startsWith(`${primary}_`)) detailed = detailed.slice(primary.length + 1);
    return { type: join(primary, detailed), known: PLAID_PRIMARIES.has(primary), raw: pfcPrimary };
  }
  if (legacy && legacy.length > 0) {
    const first = lowerSnake(legacy[0]!);
    const primary = PLAID_LEGACY_PRIMARIES[first];
    const sub = legacy[1] ? lowerSnake(legacy[1]) : undefined;
    return { type: join(primary ?? first, sub), known: primary !== undefined, raw: legacy[0]! };
  }
  return undefined;
}

const MX_TOP: Record<string, string> = {
  auto_and_transport: 'transportation',
  bills_and_utilities: 'rent_and_utilities',
  bill_and_utilities: 'rent_and_utilities',
  business_services: 'general_services',
  education: 'education',
  entertainment: 'entertainment',
  fees_and_charges: 'fee',
  financial: 'financial',
  food_and_dining: 'food_and_drink',
  gifts_and_donations: 'government_and_non_profit',
  health_and_fitness: 'medical',
  home: 'home_improvement',
  income: 'income',
  investments: 'investments',
  kids: 'kids',
  personal_care: 'personal_care',
  pets: 'pets',
  shopping: 'general_merchandise',
  taxes: 'taxes',
  transfer: 'transfer',
  travel: 'travel',
  uncategorized: 'uncategorized',
};

/** MX `top_level_category` + `category` (a top-level transaction repeats the top level in `category`). */
export function mxCategory(topLevel: string | undefined, category: string | undefined): MappedCategory | undefined {
  const top = topLevel ?? category;
  if (!top) return undefined;
  const topKey = lowerSnake(top);
  const primary = MX_TOP[topKey];
  const sub = topLevel && category ? lowerSnake(category) : undefined;
  return { type: join(primary ?? topKey, sub === topKey ? undefined : sub), known: primary !== undefined, raw: top };
}

/** Yodlee's standard category names → primary; the category name itself becomes the subcategory. */
const YODLEE: Record<string, string> = {
  automotive_expenses: 'transportation',
  gasoline_fuel: 'transportation',
  atm_cash_withdrawals: 'transfer',
  cable_satellite_services: 'rent_and_utilities',
  charitable_giving: 'government_and_non_profit',
  check_payment: 'transfer',
  child_dependent_expenses: 'personal_care',
  clothing_shoes: 'general_merchandise',
  credit_card_payments: 'loan_payments',
  deposits: 'income',
  dividends: 'income',
  education: 'education',
  electronics: 'general_merchandise',
  entertainment: 'entertainment',
  expense_reimbursement: 'income',
  general_merchandise: 'general_merchandise',
  gifts: 'general_merchandise',
  groceries: 'food_and_drink',
  healthcare_medical: 'medical',
  home_improvement: 'home_improvement',
  insurance: 'general_services',
  interest_income: 'income',
  investment_income: 'income',
  loans: 'loan_payments',
  mortgages: 'loan_payments',
  office_supplies: 'general_merchandise',
  online_services: 'general_services',
  other_bills: 'rent_and_utilities',
  other_expenses: 'other',
  other_income: 'income',
  paychecks_salary: 'income',
  personal_family: 'personal_care',
  pets_pet_care: 'personal_care',
  postage_shipping: 'general_services',
  refunds_adjustments: 'income',
  rent: 'rent_and_utilities',
  restaurants: 'food_and_drink',
  retirement_income: 'income',
  savings: 'transfer',
  securities_trades: 'investments',
  service_charges_fees: 'fee',
  subscriptions_renewals: 'general_services',
  taxes: 'taxes',
  telephone_services: 'rent_and_utilities',
  transfers: 'transfer',
  travel: 'travel',
  uncategorized: 'uncategorized',
  utilities: 'rent_and_utilities',
  wages_paid: 'general_services',
  business_miscellaneous: 'general_services',
  consulting: 'general_services',
  healthcare: 'medical',
  personal_care: 'personal_care',
  interest: 'income',
  credit_card_payment: 'loan_payments',
  atm_cash: 'transfer',
  // parts of slash names in Yodlee's category list ("Cable/Satellite/Telecom", "Entertainment/Recreation")
  cable: 'rent_and_utilities',
  telecom: 'rent_and_utilities',
  dining: 'food_and_drink',
  automotive: 'transportation',
  fuel: 'transportation',
  recreation: 'entertainment',
  mortgage: 'loan_payments',
  office_expenses: 'general_merchandise',
};
const YODLEE_TYPE: Record<string, string> = {
  income: 'income',
  transfer: 'transfer',
  expense: 'other',
  deferred_compensation: 'income',
  uncategorize: 'uncategorized',
};

/** Yodlee `category` name, placed by its `categoryType` when the name is not a standard one. */
export function yodleeCategory(
  categoryType: string | undefined,
  category: string | undefined,
): MappedCategory | undefined {
  if (!category)
    return categoryType
      ? {
          type: YODLEE_TYPE[lowerSnake(categoryType)] ?? lowerSnake(categoryType),
          known: lowerSnake(categoryType) in YODLEE_TYPE,
          raw: categoryType,
        }
      : undefined;
  const sub = lowerSnake(category);
  // "Restaurants/Dining", "Cable/Satellite/Telecom": the whole name first, then each part in turn.
  const primary =
    YODLEE[sub] ??
    category
      .split('/')
      .map((part) => YODLEE[lowerSnake(part)])
      .find(Boolean);
  if (primary) return { type: join(primary, sub), known: true, raw: category };
  const byType = categoryType ? YODLEE_TYPE[lowerSnake(categoryType)] : undefined;
  return { type: join(byType ?? sub, sub), known: false, raw: category };
}

/** Finicity's flat Mint-style names → primary; the name becomes the subcategory. */
const FINICITY: Record<string, string> = {
  restaurants: 'food_and_drink',
  fast_food: 'food_and_drink',
  coffee_shops: 'food_and_drink',
  groceries: 'food_and_drink',
  food_and_dining: 'food_and_drink',
  alcohol_and_bars: 'food_and_drink',
  paycheck: 'income',
  income: 'income',
  bonus: 'income',
  interest_income: 'income',
  reimbursement: 'income',
  rental_income: 'income',
  returned_purchase: 'income',
  transfer: 'transfer',
  credit_card_payment: 'transfer',
  transfer_for_cash_spending: 'transfer',
  cash_and_atm: 'transfer',
  atm_fee: 'fee',
  bank_fee: 'fee',
  finance_charge: 'fee',
  late_fee: 'fee',
  service_fee: 'fee',
  trade_commissions: 'fee',
  fees_and_charges: 'fee',
  gas_and_fuel: 'transportation',
  auto_and_transport: 'transportation',
  auto_insurance: 'transportation',
  auto_payment: 'loan_payments',
  parking: 'transportation',
  public_transportation: 'transportation',
  service_and_parts: 'transportation',
  air_travel: 'travel',
  hotel: 'travel',
  rental_car_and_taxi: 'travel',
  vacation: 'travel',
  travel: 'travel',
  mortgage_and_rent: 'rent_and_utilities',
  utilities: 'rent_and_utilities',
  mobile_phone: 'rent_and_utilities',
  internet: 'rent_and_utilities',
  television: 'rent_and_utilities',
  home_phone: 'rent_and_utilities',
  bills_and_utilities: 'rent_and_utilities',
  shopping: 'general_merchandise',
  clothing: 'general_merchandise',
  electronics_and_software: 'general_merchandise',
  books: 'general_merchandise',
  hobbies: 'entertainment',
  sporting_goods: 'general_merchandise',
  entertainment: 'entertainment',
  amusement: 'entertainment',
  arts: 'entertainment',
  movies_and_dvds: 'entertainment',
  music: 'entertainment',
  newspapers_and_magazines: 'entertainment',
  streaming_services: 'entertainment',
  health_and_fitness: 'medical',
  doctor: 'medical',
  dentist: 'medical',
  pharmacy: 'medical',
  eyecare: 'medical',
  gym: 'personal_care',
  health_insurance: 'medical',
  personal_care: 'personal_care',
  hair: 'personal_care',
  spa_and_massage: 'personal_care',
  laundry: 'personal_care',
  home: 'home_improvement',
  home_improvement: 'home_improvement',
  furnishings: 'home_improvement',
  home_services: 'home_improvement',
  home_supplies: 'home_improvement',
  lawn_and_garden: 'home_improvement',
  education: 'education',
  tuition: 'education',
  student_loan: 'loan_payments',
  books_and_supplies: 'education',
  gifts_and_donations: 'government_and_non_profit',
  charity: 'government_and_non_profit',
  gift: 'general_merchandise',
  taxes: 'taxes',
  federal_tax: 'taxes',
  state_tax: 'taxes',
  property_tax: 'taxes',
  investments: 'investments',
  buy: 'investments',
  sell: 'investments',
  dividend_and_cap_gains: 'income',
  deposit: 'income',
  uncategorized: 'uncategorized',
  kids: 'kids',
  pets: 'pets',
  business_services: 'general_services',
  insurance: 'general_services',
  loans: 'loan_payments',
  loan_payment: 'loan_payments',
  check: 'transfer',
  cash: 'transfer',
};

export function finicityCategory(category: string | undefined): MappedCategory | undefined {
  if (!category) return undefined;
  const sub = lowerSnake(category);
  const primary = FINICITY[sub];
  return { type: join(primary ?? sub, sub), known: primary !== undefined, raw: category };
}

/** Merchant category code ranges (ISO 18245) → primary.subcategory. */
const MCC_RANGES: [number, number, string][] = [
  [3000, 3299, 'travel.airlines'],
  [3351, 3441, 'travel.rental_cars'],
  [3501, 3999, 'travel.lodging'],
  [4011, 4131, 'transportation.public_transit'],
  [4111, 4112, 'transportation.public_transit'],
  [4121, 4121, 'transportation.taxis_and_ride_shares'],
  [4511, 4582, 'travel.airlines'],
  [4722, 4723, 'travel.travel_agencies'],
  [4812, 4816, 'rent_and_utilities.telephone_and_internet'],
  [4899, 4899, 'rent_and_utilities.cable'],
  [4900, 4900, 'rent_and_utilities.utilities'],
  [5200, 5261, 'home_improvement.hardware'],
  [5300, 5399, 'general_merchandise.department_stores'],
  [5411, 5411, 'food_and_drink.groceries'],
  [5412, 5499, 'food_and_drink.groceries'],
  [5511, 5599, 'transportation.automotive'],
  [5541, 5542, 'transportation.gas'],
  [5600, 5699, 'general_merchandise.clothing'],
  [5712, 5735, 'general_merchandise.home_and_electronics'],
  [5811, 5811, 'food_and_drink.catering'],
  [5812, 5812, 'food_and_drink.restaurants'],
  [5813, 5813, 'food_and_drink.bars'],
  [5814, 5814, 'food_and_drink.fast_food'],
  [5912, 5912, 'medical.pharmacies'],
  [5900, 5999, 'general_merchandise.other'],
  [6010, 6011, 'transfer.atm'],
  [6012, 6012, 'transfer.financial_institution'],
  [6300, 6399, 'general_services.insurance'],
  [7011, 7011, 'travel.lodging'],
  [7200, 7299, 'personal_care.services'],
  [7512, 7519, 'travel.rental_cars'],
  [7523, 7523, 'transportation.parking'],
  [7800, 7999, 'entertainment.recreation'],
  [8011, 8099, 'medical.healthcare'],
  [8211, 8299, 'education.schools'],
  [8398, 8398, 'government_and_non_profit.donations'],
  [9211, 9399, 'government_and_non_profit.government'],
  [9311, 9311, 'taxes.tax_payment'],
];

/** Akoya/FDX carries merchant category codes (MCC), sometimes a SIC code: the narrowest matching range wins. */
export function mccCategory(code: string | undefined): MappedCategory | undefined {
  if (!code) return undefined;
  const n = /^\d{4}$/.test(code) ? Number(code) : NaN;
  let best: [number, number, string] | undefined;
  for (const r of MCC_RANGES) {
    if (n >= r[0] && n <= r[1] && (!best || r[1] - r[0] < best[1] - best[0])) best = r;
  }
  return best
    ? { type: best[2], known: true, raw: code }
    : { type: `other.mcc_${lowerSnake(code)}`, known: false, raw: code };
}
