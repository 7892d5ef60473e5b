//! Readers and writers that hash every byte going through them, so the
//! file's SHA-256 comes out of the single streaming pass.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

pub(crate) struct HashingWriter<W> {
    inner: W,
    sha: Sha256,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
        }
    }

    /// Flushes the inner writer and returns the hex SHA-256 of all bytes written.
    pub(crate) fn finish(mut self) -> io::Result<String> {
        self.inner.flush()?;
        Ok(hex::encode(self.sha.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hash only what the inner writer accepted, so a short write is not counted twice.
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) struct HashingReader<R> {
    inner: R,
    sha: Sha256,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
        }
    }

    /// Reads to the end, so the hash covers the whole input even after the
    /// verifier stopped at a problem, and returns the hex SHA-256.
    pub(crate) fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(hex::encode(self.sha.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}
