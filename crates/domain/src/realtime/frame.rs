//! What goes down a realtime stream, in PocketBase's wire form: `id:<clientId>`, `event:<name>`,
//! `data:<json>` and a blank line (the JS SDK reads its client id from the event's `id`).

use std::borrow::Cow;

/// One piece of a stream: an event written for one client, or the shared keep-alive.
pub type Frame = Cow<'static, str>;

/// An SSE comment: the browser ignores it, proxies see traffic, and a dead peer shows up as a
/// failed write. It does not count as an event for the idle timeout (PocketBase sends none).
pub const KEEP_ALIVE: &str = ":\n\n";

/// The event `name` with `data` for client `id`, or `None` when a line break would let the
/// name or data start a field of their own (a subscription name is the caller's text).
pub(crate) fn event(id: &str, name: &str, data: &str) -> Option<Frame> {
    let breaks = |s: &str| s.contains(['\n', '\r']);
    if breaks(id) || breaks(name) || breaks(data) {
        return None;
    }
    Some(Cow::Owned(format!(
        "id:{id}\nevent:{name}\ndata:{data}\n\n"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_three_fields_and_a_blank_line() {
        assert_eq!(
            event("abc", "PB_CONNECT", r#"{"clientId":"abc"}"#).as_deref(),
            Some("id:abc\nevent:PB_CONNECT\ndata:{\"clientId\":\"abc\"}\n\n")
        );
    }

    #[test]
    fn a_line_break_cannot_forge_a_field() {
        assert_eq!(event("abc", "users/*\nevent:x", "{}"), None);
        assert_eq!(event("abc", "users/*", "{}\r\ndata:x"), None);
    }
}
