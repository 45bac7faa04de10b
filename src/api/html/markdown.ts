import { Marked, type Tokens } from 'marked';
import { escapeHtml } from './layout.js';

/**
 * Process and input descriptions are Markdown (OGC process descriptions allow it, and ours use
 * `code` and lists): rendered with marked, a maintained CommonMark/GFM parser. The text comes from
 * plugins and configs, so it is made inert: raw HTML in it is shown as text, and links keep only
 * http(s), mailto and relative targets (no `javascript:` URL reaches a page).
 */
const SAFE_HREF = /^(https?:|mailto:|[/#?.]|[^:]*$)/i;

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    link({ href, title, tokens }: Tokens.Link): string {
      const text = this.parser.parseInline(tokens);
      if (!SAFE_HREF.test(href)) return text;
      return `<a href="${escapeHtml(href)}"${title ? ` title="${escapeHtml(title)}"` : ''}>${text}</a>`;
    },
    image({ text }: Tokens.Image): string {
      // No images from descriptions: a page must not load anything from another site.
      return escapeHtml(text);
    },
  },
});

/** Markdown → HTML for a block (paragraphs, lists). */
export function markdownBlock(text: string | undefined): string {
  return text ? (marked.parse(text, { async: false }) as string) : '';
}

/** Markdown → HTML for one line (table cells, titles): no paragraph around it. */
export function markdownInline(text: string | undefined): string {
  return text ? (marked.parseInline(text, { async: false }) as string) : '';
}
