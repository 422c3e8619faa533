//! Fresh links through Stream's API: a message by id (`GET /messages/{id}`), a user through
//! the users query, a channel through query-channels, each answering with its file links
//! signed anew. The client's rate limiter and retry policy hold for these calls as for the
//! export calls.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::capture::Refresher;
use super::record::Owner;
use crate::api::StreamClient;
use crate::links;

/// The attachment fields a message's file links stand in.
const ATTACHMENT_LINKS: [&str; 3] = ["asset_url", "image_url", "thumb_url"];

/// Refreshes links through Stream's API.
#[derive(Debug, Clone)]
pub struct ApiRefresher {
    client: Arc<StreamClient>,
}

impl ApiRefresher {
    pub fn new(client: Arc<StreamClient>) -> Self {
        ApiRefresher { client }
    }
}

impl Refresher for ApiRefresher {
    fn refresh<'a>(
        &'a self,
        owner: &'a Owner,
        field: &'a str,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let fresh = match owner {
                Owner::Message(id) => self.client.get_message(id).await,
                Owner::User(id) => {
                    self.client
                        .query_users(std::slice::from_ref(id))
                        .await
                        .map(|users| {
                            users
                                .into_iter()
                                .find(|u| u.get("id").and_then(Value::as_str) == Some(id))
                        })
                }
                Owner::Channel(cid) => self.client.channel(cid).await,
            }
            .map_err(|e| e.to_string())?;
            Ok(fresh.and_then(|object| link_in(&object, owner, field, url)))
        })
    }
}

/// The link in `object` at `field` whose path is `path`; for a message whose attachments
/// moved (one was removed before it), the link of any attachment with that path.
fn link_in(object: &Value, owner: &Owner, field: &str, path: &str) -> Option<String> {
    let same = |link: &Value| {
        link.as_str()
            .filter(|link| links::without_query(link) == links::without_query(path))
            .map(str::to_owned)
    };
    if let Some(found) = at_field(object, field).and_then(same) {
        return Some(found);
    }
    match owner {
        Owner::Message(_) => object
            .get("attachments")?
            .as_array()?
            .iter()
            .flat_map(|a| ATTACHMENT_LINKS.iter().filter_map(move |name| a.get(name)))
            .find_map(same),
        Owner::User(_) | Owner::Channel(_) => None,
    }
}

/// The value at a field as references name it: `image`, `attachments[2].image_url`.
fn at_field<'v>(object: &'v Value, field: &str) -> Option<&'v Value> {
    let mut at = object;
    for part in field.split('.') {
        at = match part.split_once('[') {
            Some((name, index)) => {
                let index: usize = index.strip_suffix(']')?.parse().ok()?;
                at.get(name)?.get(index)?
            }
            None => at.get(part)?,
        };
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_link_at_the_same_field_with_the_same_path_is_the_fresh_one() {
        let message = json!({"id": "m", "attachments": [
            {"image_url": "https://cdn/a.png?Expires=9&Signature=new", "thumb_url": "https://cdn/t.png?Expires=9"},
        ]});
        let owner = Owner::Message("m".into());
        assert_eq!(
            link_in(
                &message,
                &owner,
                "attachments[0].image_url",
                "https://cdn/a.png"
            )
            .as_deref(),
            Some("https://cdn/a.png?Expires=9&Signature=new")
        );
        assert_eq!(
            link_in(
                &message,
                &owner,
                "attachments[0].image_url",
                "https://cdn/other.png"
            ),
            None,
            "another file at the field is not this one"
        );
    }

    #[test]
    fn a_moved_attachment_is_found_by_its_path() {
        let message = json!({"attachments": [
            "junk",
            {"asset_url": "https://cdn/f.pdf?Expires=9"},
        ]});
        let owner = Owner::Message("m".into());
        assert_eq!(
            link_in(
                &message,
                &owner,
                "attachments[3].asset_url",
                "https://cdn/f.pdf"
            )
            .as_deref(),
            Some("https://cdn/f.pdf?Expires=9")
        );
    }

    #[test]
    fn users_and_channels_have_their_image_only() {
        let user = json!({"id": "u", "image": "https://cdn/u.jpg?Expires=9"});
        let owner = Owner::User("u".into());
        assert_eq!(
            link_in(&user, &owner, "image", "https://cdn/u.jpg").as_deref(),
            Some("https://cdn/u.jpg?Expires=9")
        );
        assert_eq!(link_in(&user, &owner, "image", "https://cdn/v.jpg"), None);
        let channel = json!({"cid": "t:c", "image": 7});
        assert_eq!(
            link_in(
                &channel,
                &Owner::Channel("t:c".into()),
                "image",
                "https://cdn/c.png"
            ),
            None
        );
    }

    #[test]
    fn odd_field_names_find_nothing() {
        let message = json!({"attachments": [{"image_url": "https://cdn/a.png"}]});
        for field in [
            "attachments[x].image_url",
            "attachments[0.image_url",
            "attachments[99].image_url",
            "",
        ] {
            assert_eq!(
                at_field(&message, field).and_then(Value::as_str),
                None,
                "{field}"
            );
        }
    }
}
