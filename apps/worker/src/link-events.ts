/**
 * What a state-change webhook means for the migration: the ledger records a reconnect (once, for the reconnect
 * list and its chart) and the links that need a person (bad state, deleted), each with its event for the team's
 * backend when NOTIFY_URL is set. Links no run of ours imported are left alone.
 */
import type { MigrationLedger } from '@mk/ledger';

export interface LinkEvents {
  reconnected(linkId: string, at: number): Promise<boolean>;
  needsAttention(linkId: string, reason: string, at: number): Promise<boolean>;
}

export function ledgerLinkEvents(ledger: MigrationLedger): LinkEvents {
  return {
    async reconnected(linkId, at) {
      const owner = await ledger.findLink(linkId);
      return owner ? ledger.recordReconnect(owner, at) : false;
    },
    async needsAttention(linkId, reason, at) {
      const owner = await ledger.findLink(linkId);
      return owner ? ledger.recordAttention(owner, reason, at) : false;
    },
  };
}
