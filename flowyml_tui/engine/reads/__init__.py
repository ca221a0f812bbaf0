"""The world a step reads: files, folders and SQLite databases, recorded while it runs
(`recorder`), fixed as digests when it ends (`snapshot`), and checked before its cached result
is served (`check`). A result follows what it read, not only its code and inputs."""
