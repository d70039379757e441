import type { Product } from '@mk/shared';

/** Where a freshly imported link goes next: the one interface between the migration and the refresh pipeline. */
export interface ImportedLink {
  runId: string;
  linkId: string;
  /** Products the link was granted (keys of link.products). */
  grantedProducts: Product[];
  /** Imported links start disconnected (`auth_expired`) until the end user reconnects them. */
  connected: boolean;
  linkErrorCode?: string;
}

export interface LinkSink {
  /** Must be idempotent: a retried job may hand over the same link again. */
  linkImported(link: ImportedLink): Promise<void>;
}
