//! A small `User-Agent` reader for the sessions page: "Firefox 128 on Windows", enough for
//! a person to recognise their own devices. It is a best guess from untrusted text, shown
//! only to people and never used for a decision.
//!
//! Order matters: most browsers claim to be others ("Mozilla/5.0 … Chrome/… Safari/…"), so
//! the most specific tokens are looked for first (Edge and Opera before Chrome, Chrome
//! before Safari).

/// What a user agent says about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Browser or client name with its major version, e.g. `Chrome 126`.
    pub browser: Option<String>,
    /// Operating system, e.g. `macOS`, `iOS 17.5`, `Android 14`.
    pub os: Option<String>,
}

impl Device {
    /// One line for people: "Chrome 126 on Linux", "Firefox on Android 14", "Unknown device".
    pub fn label(&self) -> String {
        match (&self.browser, &self.os) {
            (Some(b), Some(o)) => format!("{b} on {o}"),
            (Some(b), None) => b.clone(),
            (None, Some(o)) => format!("Unknown browser on {o}"),
            (None, None) => "Unknown device".to_owned(),
        }
    }
}

/// Browsers and clients, most specific first: (token before the version, name shown).
const BROWSERS: &[(&str, &str)] = &[
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edg/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("OPiOS/", "Opera"),
    ("Vivaldi/", "Vivaldi"),
    ("YaBrowser/", "Yandex Browser"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("UCBrowser/", "UC Browser"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    // API clients people meet in session lists.
    ("curl/", "curl"),
    ("Wget/", "Wget"),
    ("PostmanRuntime/", "Postman"),
    ("python-requests/", "Python requests"),
    ("Go-http-client/", "Go HTTP client"),
    ("okhttp/", "OkHttp"),
    ("axios/", "axios"),
    ("node-fetch", "Node.js"),
    ("Faraday v", "Faraday (Ruby)"),
    ("reqwest/", "reqwest"),
];

/// Reads a `User-Agent` header value. Never panics, whatever the input.
pub fn parse(ua: &str) -> Device {
    let ua = ua.trim();
    if ua.is_empty() {
        return Device { browser: None, os: None };
    }
    Device { browser: browser(ua), os: os(ua) }
}

fn browser(ua: &str) -> Option<String> {
    for (token, name) in BROWSERS {
        if let Some(version) = version_after(ua, token) {
            return Some(with_major(name, &version));
        }
        if ua.contains(token) {
            return Some((*name).to_owned());
        }
    }
    if ua.contains("Trident/") || ua.contains("MSIE ") {
        return Some("Internet Explorer".to_owned());
    }
    // Safari names its version in "Version/17.5 … Safari/605.1.15".
    if ua.contains("Safari/") && (ua.contains("iPhone") || ua.contains("iPad") || ua.contains("Macintosh")) {
        return Some(match version_after(ua, "Version/") {
            Some(v) => with_major("Safari", &v),
            None => "Safari".to_owned(),
        });
    }
    if ua.contains("Safari/") && ua.contains("Android") {
        return Some("Android browser".to_owned());
    }
    None
}

fn os(ua: &str) -> Option<String> {
    if ua.contains("Windows Phone") {
        return Some("Windows Phone".to_owned());
    }
    if ua.contains("Windows") {
        return Some("Windows".to_owned());
    }
    // iPadOS 13+ may say "Macintosh"; only an explicit iPad is reported as one.
    for (device, name) in [("iPhone", "iOS"), ("iPad", "iPadOS"), ("iPod", "iOS")] {
        if ua.contains(device) {
            return Some(match version_after(ua, " OS ") {
                Some(v) => format!("{name} {}", dotted(&v, 2)),
                None => name.to_owned(),
            });
        }
    }
    if ua.contains("Android") {
        return Some(match version_after(ua, "Android ") {
            Some(v) => format!("Android {}", dotted(&v, 1)),
            None => "Android".to_owned(),
        });
    }
    if ua.contains("CrOS") {
        return Some("ChromeOS".to_owned());
    }
    if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        return Some("macOS".to_owned());
    }
    for (token, name) in [("Ubuntu", "Ubuntu"), ("Fedora", "Fedora"), ("Debian", "Debian")] {
        if ua.contains(token) {
            return Some(name.to_owned());
        }
    }
    if ua.contains("Linux") || ua.contains("X11") {
        return Some("Linux".to_owned());
    }
    if ua.contains("FreeBSD") {
        return Some("FreeBSD".to_owned());
    }
    None
}

/// The version text right after `token`: digits, dots and underscores (`17_5_1` in iOS).
fn version_after(ua: &str, token: &str) -> Option<String> {
    let start = ua.find(token)? + token.len();
    let version: String =
        ua.get(start..)?.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_').take(20).collect();
    version.starts_with(|c: char| c.is_ascii_digit()).then_some(version)
}

/// `name` with the major part of `version`: "Chrome 126".
fn with_major(name: &str, version: &str) -> String {
    format!("{name} {}", dotted(version, 1))
}

/// The first `parts` numeric parts of a version, dot-separated (`17_5_1`, 2 → `17.5`).
fn dotted(version: &str, parts: usize) -> String {
    version.split(['.', '_']).filter(|p| !p.is_empty()).take(parts).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn label(ua: &str) -> String {
        parse(ua).label()
    }

    #[test]
    fn common_desktop_browsers() {
        assert_eq!(
            label(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
            ),
            "Chrome 126 on Windows"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87"
            ),
            "Edge 126 on Windows"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
            ),
            "Safari 17 on macOS"
        );
        assert_eq!(
            label("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox 128 on Ubuntu"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/112.0.0.0"
            ),
            "Opera 112 on Linux"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
            ),
            "Chrome 126 on ChromeOS"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
            ),
            "Headless Chrome 156 on Linux"
        );
        assert_eq!(
            label("Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko"),
            "Internet Explorer on Windows"
        );
    }

    #[test]
    fn phones_and_tablets() {
        assert_eq!(
            label(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
            ),
            "Safari 17 on iOS 17.5"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1"
            ),
            "Chrome 126 on iPadOS 16.6"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36"
            ),
            "Chrome 126 on Android 14"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36"
            ),
            "Samsung Internet 25 on Android 13"
        );
        assert_eq!(
            label("Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"),
            "Firefox 128 on Android 14"
        );
        assert_eq!(
            label(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15"
            ),
            "Firefox 127 on iOS 17.5"
        );
    }

    #[test]
    fn api_clients_and_unknowns() {
        assert_eq!(label("curl/8.5.0"), "curl 8");
        assert_eq!(label("python-requests/2.32.3"), "Python requests 2");
        assert_eq!(label("Go-http-client/1.1"), "Go HTTP client 1");
        assert_eq!(label(""), "Unknown device");
        assert_eq!(label("   "), "Unknown device");
        assert_eq!(label("<script>alert(1)</script>"), "Unknown device");
        assert_eq!(label("SomethingNew/1.0 (Linux)"), "Unknown browser on Linux");
        // A token without a version is still named.
        assert_eq!(label("Firefox/"), "Firefox");
    }

    proptest! {
        #[test]
        fn arbitrary_user_agents_never_panic(ua in ".{0,300}") {
            let d = parse(&ua);
            let _ = d.label();
        }

        #[test]
        fn arbitrary_versions_never_panic(v in "[0-9._]{0,40}", t in 0usize..BROWSERS.len()) {
            let (token, _) = BROWSERS[t];
            let _ = parse(&format!("Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) {token}{v}")).label();
        }
    }
}
