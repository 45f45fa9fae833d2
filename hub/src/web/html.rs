//! HTML building blocks: [`esc`] (every user-supplied string goes through it), [`Page`] (what a
//! handler answers) and [`document`] (the one layout around every page).

use std::fmt::Write as _;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub(crate) use shared::server::esc;

use super::assets;
use crate::config::HubSection;

/// The part of a page a handler renders; [`super::finish_pages`] puts it in the layout.
#[derive(Debug, Clone)]
pub(crate) struct Fragment {
    title: String,
    main: String,
    script: Option<&'static str>,
}

impl Fragment {
    /// The page of a fallback's error status.
    pub(crate) fn for_status(status: StatusCode) -> Self {
        let (title, text) = match status {
            StatusCode::NOT_FOUND => ("Page not found", "There is nothing at this address."),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("Method not allowed", "This page cannot be used that way.")
            }
            _ => (
                status.canonical_reason().unwrap_or("Error"),
                "The request could not be completed.",
            ),
        };
        Self {
            title: title.to_owned(),
            main: error_main(status, title, &esc(text).to_string()),
            script: None,
        }
    }
}

/// What a page handler answers: status, extra headers, title and `<main>` content (already HTML).
#[derive(Debug, Clone)]
pub(crate) struct Page {
    status: StatusCode,
    headers: HeaderMap,
    fragment: Fragment,
}

impl Page {
    /// A 200 page; `title` is text, `main` is HTML built with [`esc`].
    pub(crate) fn new(title: &str, main: String) -> Self {
        Self {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            fragment: Fragment {
                title: title.to_owned(),
                main,
                script: None,
            },
        }
    }

    /// An error page: a heading and a message (HTML), under the status code.
    pub(crate) fn error(status: StatusCode, title: &str, message_html: &str) -> Self {
        Self::new(title, error_main(status, title, message_html)).status(status)
    }

    /// Sets the status.
    pub(crate) fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds a response header.
    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Loads a first-party script (an `/assets/…` path) in the head, deferred.
    pub(crate) fn script(mut self, path: &'static str) -> Self {
        self.fragment.script = Some(path);
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.headers).into_response();
        response.extensions_mut().insert(self.fragment);
        response
    }
}

fn error_main(status: StatusCode, title: &str, message_html: &str) -> String {
    format!(
        "<section class=\"card error\" aria-labelledby=\"page-title\">\
         <p class=\"status\">Error {}</p><h1 id=\"page-title\">{}</h1><p>{message_html}</p>\
         <p><a href=\"/\">Back to the start page</a></p></section>",
        status.as_u16(),
        esc(title)
    )
}

/// The whole document: head, site header with navigation, the page's `<main>`, footer.
pub(crate) fn document(hub: &HubSection, fragment: &Fragment) -> String {
    let mut head = format!(
        "<link rel=\"stylesheet\" href=\"{}\">",
        assets::versioned(assets::CSS_PATH)
    );
    // Without an icon, an empty one: browsers would otherwise fetch /favicon.ico into a 404.
    let icon = if hub.icon_url.is_empty() {
        "data:,"
    } else {
        &hub.icon_url
    };
    let _ = write!(head, "<link rel=\"icon\" href=\"{}\">", esc(icon));
    if let Some(script) = fragment.script {
        let _ = write!(
            head,
            "<script src=\"{}\" defer></script>",
            assets::versioned(script)
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · {site}</title>{head}</head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header class=\"site\"><a class=\"brand\" href=\"/\">{site}</a>\
         <nav aria-label=\"Site\"><ul><li><a href=\"/join\">Join</a></li>\
         <li><a href=\"/login\">Sign in</a></li><li><a href=\"/account\">Account</a></li></ul></nav>\
         </header>\
         <main id=\"main\" tabindex=\"-1\">{main}</main>\
         <footer class=\"site\"><p>{site} runs goop-hub {version}.</p></footer>\
         </body></html>\n",
        title = esc(&fragment.title),
        site = esc(&hub.name),
        main = fragment.main,
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_replaces_the_five_special_characters() {
        assert_eq!(
            esc(r#"<a href="x">Tom & Jerry's</a>"#).to_string(),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }

    #[test]
    fn esc_keeps_other_text_including_non_ascii() {
        assert_eq!(esc("Goop² — ünïcode").to_string(), "Goop² — ünïcode");
        assert_eq!(esc("").to_string(), "");
        assert_eq!(esc("&&").to_string(), "&amp;&amp;");
    }

    #[test]
    fn document_escapes_the_community_name_in_title_and_header() {
        let hub = HubSection {
            name: "<script>alert(1)</script>".to_owned(),
            ..crate::Config::default().hub
        };

        let page = document(&hub, &Fragment::for_status(StatusCode::NOT_FOUND));

        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
