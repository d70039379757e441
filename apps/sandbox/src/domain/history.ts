/**
 * What the sandbox saw of each link, when asked to keep it (`linkHistory`): the upstream half of a link's story
 * (imported, reconnected, each refresh call and its answer, each webhook delivery and what the receiver answered),
 * so a failing test can show where a link's refreshes stopped. Capped per link.
 */
const PER_LINK = 48;

export interface LinkHistoryEntry {
  at: number;
  what: string;
}

export class LinkHistory {
  private readonly entries = new Map<string, LinkHistoryEntry[]>();

  constructor(readonly enabled: boolean) {}

  note(linkId: string, what: string, at = Date.now()): void {
    if (!this.enabled) return;
    let list = this.entries.get(linkId);
    if (!list) this.entries.set(linkId, (list = []));
    list.push({ at, what });
    if (list.length > PER_LINK) list.splice(0, list.length - PER_LINK);
  }

  of(linkId: string): LinkHistoryEntry[] {
    return [...(this.entries.get(linkId) ?? [])];
  }

  clear(): void {
    this.entries.clear();
  }
}
