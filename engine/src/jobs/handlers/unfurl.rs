//! The URL-unfurl job: fetches each page a message links to, with a short
//! timeout and a size cap, reads its `<title>` and `og:` meta tags, and
//! attaches the previews to the message through its channel actor, which
//! sends `message_changed`. Addresses that are private, loopback, link-local
//! or otherwise not public are refused, before and after every redirect,
//! unless the settings allow them.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use serde_json::{json, Value};
use switchboard_actors::channel::ChannelMsg;
use switchboard_actors::hub::ask;
use switchboard_actors::ids::{ChannelId, TeamId};
use switchboard_actors::ports::Write;
use switchboard_actors::ts::Ts;

use super::JobContext;

/// Maximum number of links unfurled per message.
const MAX_URLS: usize = 5;

/// Maximum number of redirects followed per link.
const MAX_REDIRECTS: usize = 5;

/// Limits of the page fetches of unfurls.
#[derive(Clone, Debug)]
pub struct UnfurlSettings {
    /// Allow private, loopback and link-local addresses (for tests and
    /// closed networks).
    pub allow_private: bool,
    /// Time allowed for each request, connection included.
    pub timeout: Duration,
    /// Bytes of a page read at most; the rest is ignored.
    pub max_bytes: usize,
}

impl Default for UnfurlSettings {
    fn default() -> Self {
        UnfurlSettings {
            allow_private: false,
            timeout: Duration::from_secs(3),
            max_bytes: 512 * 1024,
        }
    }
}

/// Returns the http(s) links of a message, in order, without repeats: Slack's
/// `<url>` and `<url|label>` forms and bare URLs.
pub fn extract_urls(text: &str) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let candidate = if let Some(inner) = word.strip_prefix('<') {
            let inner = inner.split('>').next().unwrap_or_default();
            inner.split('|').next().unwrap_or_default()
        } else {
            word.trim_end_matches(['.', ',', ')', '!', '?'])
        };
        let is_link = candidate.starts_with("http://") || candidate.starts_with("https://");
        if is_link && Url::parse(candidate).is_ok() && !urls.iter().any(|u| u == candidate) {
            urls.push(candidate.to_owned());
        }
        if urls.len() == MAX_URLS {
            break;
        }
    }
    urls
}

/// Returns whether an address is on the public internet: not private,
/// loopback, link-local, unspecified, broadcast, multicast, shared (CGNAT) or
/// documentation space.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// A page's preview.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Preview {
    /// `og:title`, else `<title>`.
    pub title: Option<String>,
    /// `og:description`.
    pub description: Option<String>,
    /// `og:image`.
    pub image: Option<String>,
    /// `og:site_name`.
    pub site_name: Option<String>,
}

/// Reads the title and `og:` tags of an HTML page.
pub fn parse_preview(html: &str) -> Preview {
    let lower = html.to_ascii_lowercase();
    let mut preview = Preview::default();
    let mut position = 0;
    while let Some(found) = lower[position..].find("<meta") {
        let start = position + found;
        let Some(length) = lower[start..].find('>') else {
            break;
        };
        let tag = &html[start..start + length];
        position = start + length;
        let key = attribute(tag, "property").or_else(|| attribute(tag, "name"));
        let (Some(key), Some(content)) = (key, attribute(tag, "content")) else {
            continue;
        };
        let slot = match key.to_ascii_lowercase().as_str() {
            "og:title" => &mut preview.title,
            "og:description" => &mut preview.description,
            "og:image" => &mut preview.image,
            "og:site_name" => &mut preview.site_name,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(decode_entities(&content));
        }
    }
    if preview.title.is_none() {
        if let Some(open) = lower.find("<title") {
            if let Some(close_tag) = lower[open..].find('>') {
                let body_start = open + close_tag + 1;
                if let Some(end) = lower[body_start..].find("</title") {
                    let title = decode_entities(html[body_start..body_start + end].trim());
                    if !title.is_empty() {
                        preview.title = Some(title);
                    }
                }
            }
        }
    }
    preview
}

/// Returns the value of `name="…"` (or single-quoted) inside a tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut search = 0;
    while let Some(found) = lower[search..].find(name) {
        let at = search + found;
        search = at + name.len();
        let preceded_by_space = lower[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = lower[search..].trim_start();
        if !preceded_by_space || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        let quote = value.chars().next()?;
        if quote == '"' || quote == '\'' {
            let inner = &value[1..];
            return inner.find(quote).map(|end| inner[..end].to_owned());
        }
        return value.split_whitespace().next().map(str::to_owned);
    }
    None
}

/// Decodes the five XML entities and numeric character references.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let Some(semi) = after[..after.len().min(12)].find(';') else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(character) => {
                out.push(character);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Resolves the host of `url` and checks every address. Returns the address
/// to connect to, or why the link is refused.
async fn resolve_allowed(url: &Url, allow_private: bool) -> Result<SocketAddr, String> {
    let host = url
        .host_str()
        .ok_or_else(|| format!("link {url} has no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("link {url} has no port"))?;
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| format!("failed to resolve {host}: {error}"))?
        .collect();
    let first = *addresses
        .first()
        .ok_or_else(|| format!("{host} resolved to no address"))?;
    if !allow_private {
        if let Some(refused) = addresses.iter().find(|address| !is_public(address.ip())) {
            return Err(format!(
                "refused {url}: {host} resolves to non-public address {}",
                refused.ip()
            ));
        }
    }
    Ok(first)
}

/// Fetches a page, following redirects by hand so that each hop's address is
/// checked, and returns its preview.
pub async fn fetch_preview(settings: &UnfurlSettings, link: &str) -> Result<Preview, String> {
    let mut url = Url::parse(link).map_err(|error| format!("invalid link {link}: {error}"))?;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "refused {url}: only http and https links are unfurled"
            ));
        }
        let address = resolve_allowed(&url, settings.allow_private).await?;
        // The connection goes to the address just checked, not to a second
        // lookup that could return another address.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .user_agent("Switchboard-LinkExpanding/0.1");
        if let Some(domain) = url.domain() {
            builder = builder.resolve(domain, address);
        }
        let client = builder
            .build()
            .map_err(|error| format!("failed to build an HTTP client: {error}"))?;
        let mut response = client
            .get(url.clone())
            .send()
            .await
            .map_err(|error| format!("failed to fetch {url}: {error}"))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| format!("{url} redirected without a Location"))?;
            url = url
                .join(location)
                .map_err(|error| format!("invalid redirect from {url}: {error}"))?;
            continue;
        }
        if !status.is_success() {
            return Err(format!("{url} answered HTTP {status}"));
        }
        let mut body = Vec::new();
        while body.len() < settings.max_bytes {
            let chunk = response
                .chunk()
                .await
                .map_err(|error| format!("failed to read {url}: {error}"))?;
            let Some(chunk) = chunk else { break };
            body.extend_from_slice(&chunk);
        }
        body.truncate(settings.max_bytes);
        return Ok(parse_preview(&String::from_utf8_lossy(&body)));
    }
    Err(format!("{link}: more than {MAX_REDIRECTS} redirects"))
}

/// Builds Slack's unfurl attachment for a preview.
fn attachment(link: &str, preview: &Preview) -> Value {
    let mut fields = json!({
        "from_url": link,
        "original_url": link,
        "title_link": link,
        "fallback": preview.title.clone().unwrap_or_else(|| link.to_owned()),
    });
    let optional = [
        ("title", &preview.title),
        ("text", &preview.description),
        ("image_url", &preview.image),
        ("service_name", &preview.site_name),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            fields[name] = value.clone().into();
        }
    }
    fields
}

pub(super) async fn handle(
    context: &JobContext,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
    urls: &[String],
) -> Result<Vec<Write>, String> {
    let settings = &context.settings.unfurl;
    let mut attachments = Vec::new();
    for link in urls {
        // A page that is refused or fails gets no preview; the job still
        // succeeds, because retrying would not change the page.
        match fetch_preview(settings, link).await {
            Ok(preview) if preview != Preview::default() => {
                attachments.push(attachment(link, &preview));
            }
            Ok(_) => tracing::debug!(%link, "page has no title or og: tags"),
            Err(reason) => tracing::info!(%link, %reason, "link not unfurled"),
        }
    }
    if attachments.is_empty() {
        return Ok(Vec::new());
    }
    let actor = context
        .hub
        .channel(team_id, channel_id)
        .await
        .map_err(|error| format!("channel {channel_id} unavailable: {error}"))?;
    let attached = ask(&actor, |reply| ChannelMsg::Attach {
        ts,
        attachments,
        reply,
    })
    .await
    .map_err(|error| format!("channel {channel_id} did not answer: {error}"))?;
    match attached {
        Ok(_) => Ok(Vec::new()),
        // The message was deleted in the meantime.
        Err(switchboard_actors::ApiError::MessageNotFound) => Ok(Vec::new()),
        Err(error) => Err(format!("attaching previews to {ts} failed: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_extracted() {
        let text =
            "see <https://a.example/x|A> and http://b.example/y. and <https://a.example/x> <#C1>";
        assert_eq!(
            extract_urls(text),
            vec![
                "https://a.example/x".to_owned(),
                "http://b.example/y".to_owned()
            ]
        );
        assert!(extract_urls("no links, ftp://x").is_empty());
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in ["93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

    #[test]
    fn preview_reads_og_tags_and_title() {
        let html = r#"<html><head><title>Plain &amp; simple</title>
            <meta property="og:title" content="OG &quot;Title&quot;">
            <META name='og:description' content='About it'>
            <meta property="og:image" content="https://img.example/x.png"/></head></html>"#;
        let preview = parse_preview(html);
        assert_eq!(preview.title.as_deref(), Some("OG \"Title\""));
        assert_eq!(preview.description.as_deref(), Some("About it"));
        assert_eq!(preview.image.as_deref(), Some("https://img.example/x.png"));
        assert_eq!(preview.site_name, None);
        let plain = parse_preview("<title> Only &#39;title&#x21; </title>");
        assert_eq!(plain.title.as_deref(), Some("Only 'title!"));
    }
}
