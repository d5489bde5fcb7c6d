//! A browser for the account pages' tests: a cookie jar (form token, session, trusted device)
//! and the pages it reads.

use super::ACCOUNT;
use crate::support::TestApp;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use std::collections::BTreeMap;

/// A browser with a cookie jar: the form token, the session, the trusted device.
pub struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    pub jar: BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub html: String,
    pub cookies: Vec<String>,
    pub location: String,
    pub cache_control: String,
}

impl Page {
    /// The value of the first field `name` in the page.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.html.find(&marker).map(|i| i + marker.len());
        start
            .and_then(|s| self.html[s..].split('"').next())
            .unwrap_or_default()
            .replace("&#43;", "+")
            .replace("&#x2b;", "+")
    }

    pub fn cookie(&self, name: &str) -> Option<&String> {
        self.cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The backup codes the page shows.
    pub fn codes(&self) -> Vec<String> {
        self.html
            .split("<li><code>")
            .skip(1)
            .filter_map(|rest| rest.split("</code>").next())
            .map(str::to_owned)
            .collect()
    }

    pub fn assert_shows(&self, status: u16, text: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.html);
        assert!(self.html.contains(text), "{text:?} not in {}", self.html);
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            app,
            client,
            jar: BTreeMap::new(),
        }
    }

    /// A browser signed in with `token` (what the sign-in page puts in `gh_session`).
    pub async fn signed_in(app: &'a TestApp, token: &str) -> Self {
        let mut browser = Self::new(app);
        browser.jar.insert("gh_session".into(), token.into());
        browser
    }

    pub fn session(&self) -> String {
        self.jar.get("gh_session").cloned().unwrap_or_default()
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, page: &Page) {
        for cookie in &page.cookies {
            let pair = cookie.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if cookie.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self
            .client
            .get(format!("{}{path}", self.app.url))
            .header(COOKIE, self.cookie_header());
        let page = read(req.send().await.expect("get")).await;
        self.keep(&page);
        page
    }

    /// The account page's form token.
    pub async fn csrf(&mut self) -> String {
        let page = self.get(ACCOUNT).await;
        assert_eq!(page.status, 200, "{}", page.html);
        page.field("csrf")
    }

    /// Posts `fields` plus the collection and the form token `csrf`.
    pub async fn post(&mut self, path: &str, csrf: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", csrf), ("collection", "users")];
        all.extend_from_slice(fields);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&all)
            .finish();
        let req = self
            .client
            .post(format!("{}{path}", self.app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(COOKIE, self.cookie_header())
            .body(body);
        let page = read(req.send().await.expect("post")).await;
        self.keep(&page);
        page
    }
}

async fn read(resp: reqwest::Response) -> Page {
    let status = resp.status();
    let header = |name| {
        resp.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let cookies = header(SET_COOKIE);
    let location = header(LOCATION).pop().unwrap_or_default();
    let cache_control = header(CACHE_CONTROL).pop().unwrap_or_default();
    let html = resp.text().await.expect("body");
    Page {
        status,
        html,
        cookies,
        location,
        cache_control,
    }
}
