//! The CSV file an import reads, with its SHA-256. An upload is spooled to a temporary file
//! (deleted when the value is dropped) while it is hashed and measured against a size limit, so
//! a request body is never held in memory and the import can read it from disk at its own pace.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::ImportError;

/// Bytes read or written at a time.
const CHUNK: usize = 64 * 1024;

/// A file on disk, its size and SHA-256.
#[derive(Debug)]
pub struct CsvFile {
    path: PathBuf,
    size: u64,
    sha256: [u8; 32],
    /// Deletes a spooled upload when dropped; `None` for a caller's own file.
    _spooled: Option<tempfile::TempPath>,
}

impl CsvFile {
    /// A file already on disk (the CLI): hashed once, read in place.
    pub async fn open(path: &Path) -> Result<Self, ImportError> {
        let owned = path.to_path_buf();
        let (size, sha256) = tokio::task::spawn_blocking(move || hash_file(&owned))
            .await
            .context("The hashing task failed")??;
        Ok(Self {
            path: path.to_path_buf(),
            size,
            sha256,
            _spooled: None,
        })
    }

    /// Copies `body` to a temporary file while hashing it; refuses more than `limit` bytes.
    pub async fn spool<R: AsyncRead + Unpin>(mut body: R, limit: u64) -> Result<Self, ImportError> {
        let (file, path) = tempfile::NamedTempFile::new()
            .context("Failed to create a temporary file for the upload")?
            .into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let read = body
                .read(&mut buffer)
                .await
                .map_err(|e| ImportError::Unreadable(e.to_string()))?;
            if read == 0 {
                break;
            }
            size += read as u64;
            if size > limit {
                return Err(ImportError::TooLarge { limit });
            }
            let chunk = buffer.get(..read).unwrap_or_default();
            hasher.update(chunk);
            file.write_all(chunk)
                .await
                .context("Failed to write the upload to disk")?;
        }
        file.flush()
            .await
            .context("Failed to write the upload to disk")?;
        Ok(Self {
            path: path.to_path_buf(),
            size,
            sha256: hasher.finalize().into(),
            _spooled: Some(path),
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Its SHA-256.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }
}

fn hash_file(path: &Path) -> Result<(u64, [u8; 32]), ImportError> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        ImportError::invalid("file", format!("cannot open {}: {e}", path.display()))
    })?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let read = file.read(&mut buffer).map_err(|e| {
            ImportError::invalid("file", format!("cannot read {}: {e}", path.display()))
        })?;
        if read == 0 {
            return Ok((size, hasher.finalize().into()));
        }
        size += read as u64;
        hasher.update(buffer.get(..read).unwrap_or_default());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_spooled_upload_has_the_same_digest_as_the_file_it_became() {
        let spooled = CsvFile::spool(&b"phone\n07400 123456\n"[..], 1024)
            .await
            .unwrap();
        assert_eq!(spooled.size(), 19);
        let reopened = CsvFile::open(spooled.path()).await.unwrap();
        assert_eq!(reopened.sha256(), spooled.sha256());
        assert_eq!(
            std::fs::read(spooled.path()).unwrap(),
            b"phone\n07400 123456\n"
        );
    }

    #[tokio::test]
    async fn an_upload_over_the_limit_is_refused() {
        let error = CsvFile::spool(&[b'x'; 2000][..], 1000).await.unwrap_err();
        assert!(matches!(error, ImportError::TooLarge { limit: 1000 }));
    }

    #[tokio::test]
    async fn the_spooled_file_is_deleted_with_the_value() {
        let spooled = CsvFile::spool(&b"email\n"[..], 100).await.unwrap();
        let path = spooled.path().to_path_buf();
        assert!(path.exists());
        drop(spooled);
        assert!(!path.exists());
    }
}
