import type { ApiRequest } from '../request.js';
import { escapeHtml, layout } from './layout.js';
import { generic } from './generic.js';
import { conformancePage, landingPage } from './landing-pages.js';
import { processesPage, processPage } from './process-pages.js';
import { jobPage, jobsPage } from './job-pages.js';
import { resultsPage } from './results-page.js';
import { dependenciesPage, storedDataItemPage, storedDataListPage } from './stored-data-pages.js';
import { collectionPage, collectionsPage, itemPage, itemsPage } from './feature-pages.js';
import { uploadItemPage, uploadsPage } from './upload-pages.js';
import { configurationPage, configurationsPage, offeringPage, offeringsPage } from './publication-pages.js';

export { generic, linkList } from './generic.js';

/** A view takes the document its handler built; `never` lets each view name its own document type. */
type Page = (doc: never, req: ApiRequest) => string;

/** page name (as the handlers pass it to `respond`) → its view. */
const PAGES: Record<string, Page> = {
  landing: landingPage,
  conformance: conformancePage,
  processes: processesPage,
  process: processPage,
  jobs: jobsPage,
  job: jobPage,
  results: resultsPage,
  stored_data: storedDataListPage,
  stored_data_item: storedDataItemPage,
  dependencies: dependenciesPage,
  configurations: configurationsPage,
  configuration: configurationPage,
  offerings: offeringsPage,
  offering: offeringPage,
  collections: collectionsPage,
  collection: collectionPage,
  items: itemsPage,
  item: itemPage,
  uploads: uploadsPage,
  upload: uploadItemPage,
};

/**
 * HTML rendering of every API document (conformance class html: all information plus <a> links).
 * `page` names the resource kind; pages without a dedicated view get the generic one.
 */
export function renderHtml(page: string, doc: unknown, req: ApiRequest): string {
  const view = PAGES[page];
  if (view) return view(doc as never, req);
  const title = String((doc as { title?: string })?.title ?? page);
  return layout(req, title, `<h1>${escapeHtml(title)}</h1>${generic(doc, req)}`);
}
