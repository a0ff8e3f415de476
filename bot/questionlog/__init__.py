"""The question log: what was asked, how it was answered and how members rated it, in one SQLite file.

`schema` opens the file and migrates it, `store` reads and writes it (plain sqlite3, synchronous), `service`
runs all of that on one dedicated thread so the event loop never waits for the database, and `chart` draws
/stats' picture.
"""
