//! Object storage for images: S3 on AWS, COS on Tencent Cloud (through its S3-compatible
//! endpoint), any S3-compatible server locally. The shop never carries image bytes: it
//! presigns an upload whose key, content type and exact length are signed in, checks what
//! arrived, and serves keys as URLs under a public base (a CDN in front of the bucket).

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;

/// Where the bucket is and how its objects are served.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSettings {
    pub bucket: String,
    /// An S3-compatible endpoint (COS: `https://cos.<region>.myqcloud.com`); `None` is AWS S3.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Path-style addressing (`<endpoint>/<bucket>/<key>`), for servers without
    /// bucket subdomains.
    pub path_style: bool,
    /// The URL objects are served under (a CDN, or the bucket's own URL), without a trailing `/`.
    pub public_base: String,
    /// Keys of their own (COS's SecretId/SecretKey); `None` takes the platform's credentials
    /// (the Lambda role).
    pub credentials: Option<(String, String)>,
}

/// A signed upload the client performs itself: `PUT url` with exactly these headers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PresignedPut {
    pub url: String,
    pub method: &'static str,
    pub headers: std::collections::BTreeMap<String, String>,
}

/// What the store holds under a key.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub content_type: Option<String>,
    pub size: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("object storage: {0}")]
pub struct ObjectError(pub String);

fn fail(e: impl std::fmt::Display) -> ObjectError {
    ObjectError(e.to_string())
}

/// The bucket; its client is made on first use (making one reads the platform's
/// credentials, which needs the runtime).
pub struct ObjectStore {
    client: tokio::sync::OnceCell<Client>,
    settings: ObjectSettings,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore").field("bucket", &self.settings.bucket).finish_non_exhaustive()
    }
}

impl ObjectStore {
    pub fn new(settings: ObjectSettings) -> Self {
        Self { client: tokio::sync::OnceCell::new(), settings }
    }

    async fn client(&self) -> &Client {
        self.client.get_or_init(|| Self::connect(&self.settings)).await
    }

    async fn connect(settings: &ObjectSettings) -> Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = &settings.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some((id, secret)) = &settings.credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "shop-settings",
            ));
        }
        let conf = loader.load().await;
        let mut s3 = aws_sdk_s3::config::Builder::from(&conf).force_path_style(settings.path_style);
        if let Some(ep) = &settings.endpoint {
            s3 = s3.endpoint_url(ep.clone());
        }
        Client::from_conf(s3.build())
    }

    /// The URL shoppers load `key` from.
    pub fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.settings.public_base)
    }

    /// A PUT of `size` bytes of `content_type` to `key`, valid for `ttl`. The content type and
    /// length are signed headers: the storage refuses an upload that differs in either.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        ttl: Duration,
    ) -> Result<PresignedPut, ObjectError> {
        let config = PresigningConfig::expires_in(ttl).map_err(fail)?;
        let req = self
            .client()
            .await
            .put_object()
            .bucket(&self.settings.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            .presigned(config)
            .await
            .map_err(|e| fail(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let headers = req.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Ok(PresignedPut { url: req.uri().to_owned(), method: "PUT", headers })
    }

    /// What is stored under `key`, or `None` when nothing is.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        match self.client().await.head_object().bucket(&self.settings.bucket).key(key).send().await {
            Ok(o) => Ok(Some(ObjectInfo { content_type: o.content_type, size: o.content_length.unwrap_or(0) })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(fail(aws_sdk_s3::error::DisplayErrorContext(e))),
        }
    }

    /// Makes the bucket unless it exists (local runs and tests; deployments declare it).
    pub async fn create_bucket_if_missing(&self) -> Result<(), ObjectError> {
        if self.client().await.head_bucket().bucket(&self.settings.bucket).send().await.is_ok() {
            return Ok(());
        }
        self.client()
            .await
            .create_bucket()
            .bucket(&self.settings.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail(aws_sdk_s3::error::DisplayErrorContext(e)))
    }

    /// Lets anyone read the bucket's objects: for local runs and tests, where the bucket's own
    /// URL stands in for the CDN. Deployments keep the bucket private behind CloudFront.
    pub async fn allow_public_reads(&self) -> Result<(), ObjectError> {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::{}/*", self.settings.bucket),
            }],
        });
        self.client()
            .await
            .put_bucket_policy()
            .bucket(&self.settings.bucket)
            .policy(policy.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fail(aws_sdk_s3::error::DisplayErrorContext(e)))
    }
}
