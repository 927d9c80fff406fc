// Message catalogs (static/i18n/<lang>.json) and DOM translation.
//
// Server-rendered elements carry data-i18n="key" (textContent), data-i18n-title,
// data-i18n-aria-label or data-i18n-placeholder; the server writes the English text as a
// fallback so pages read fine before (or without) JavaScript. The chosen language lives in
// localStorage ("gradplay.lang"); switching fires a "gradplay:langchange" event on document.

export const LANGS = ["en", "zh"];
const STORAGE_KEY = "gradplay.lang";
const HTML_LANG = { en: "en", zh: "zh-CN" };

const catalogs = {};

async function loadCatalog(lang) {
  if (!catalogs[lang]) {
    const response = await fetch(`/static/i18n/${lang}.json`, {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(`message catalog ${lang}: HTTP ${response.status}`);
    catalogs[lang] = await response.json();
  }
  return catalogs[lang];
}

function storedLang() {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(value) ? value : null;
  } catch {
    return null; // storage disabled: fall back to English
  }
}

let current = storedLang() || "en";

export function getLang() {
  return current;
}

// Loads both catalogs (English is the fallback for missing keys).
export async function initI18n() {
  await Promise.all([loadCatalog("en"), current === "en" ? null : loadCatalog(current)]);
  document.documentElement.lang = HTML_LANG[current];
}

function interpolate(text, vars) {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

// t("sched.steps") -> the message in the current language, else English, else the key.
export function t(key, vars) {
  const own = catalogs[current] && catalogs[current][key];
  const en = catalogs.en && catalogs.en[key];
  return interpolate(own ?? en ?? key, vars);
}

// Like t() but returns `fallback` when no catalog has the key (used for catalog-provided text:
// component labels/descriptions come from GET /api/catalog in English; a language may add
// "catalog.<kind>.<name>.<field>" keys to translate them).
export function tOr(key, fallback, vars) {
  const own = catalogs[current] && catalogs[current][key];
  const en = catalogs.en && catalogs.en[key];
  const text = own ?? en;
  return text === undefined ? fallback : interpolate(text, vars);
}

const ATTRS = [
  ["i18nTitle", "title"],
  ["i18nAriaLabel", "aria-label"],
  ["i18nPlaceholder", "placeholder"],
];

// Fills every [data-i18n*] element under root with the current language.
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const [prop, attr] of ATTRS) {
    const sel = `[data-${attr === "aria-label" ? "i18n-aria-label" : `i18n-${attr}`}]`;
    for (const el of root.querySelectorAll(sel)) el.setAttribute(attr, t(el.dataset[prop]));
  }
}

export async function setLang(lang) {
  if (!LANGS.includes(lang)) throw new Error(`unknown language ${lang}`);
  await loadCatalog(lang);
  current = lang;
  try {
    window.localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not persisted; still switch for this page
  }
  document.documentElement.lang = HTML_LANG[lang];
  applyI18n();
  document.dispatchEvent(new CustomEvent("gradplay:langchange", { detail: { lang } }));
}
