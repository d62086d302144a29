"""Credentials and tokens, below the processes: the signing key ring on disk (``keys``), JWT access
tokens (``tokens``), API keys (``apikeys``), the records of the credentials, pairing-codes and
revocations topics as one book (``book``), and the secrets key of sealed topic values (``sealed``).
Nothing here talks to Kafka or HTTP; the API (``api.authn``, ``api.auth_view``) and ``bazaar auth``
do. docs/access.md tells the whole model."""
