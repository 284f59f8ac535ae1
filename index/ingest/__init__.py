"""Getting articles in: from a URL, a file or text to a ``PreparedArticle``, ready to embed.

``fetch`` (the SSRF-safe fetcher, with ``addresses`` holding its address policy and
``decoding`` its content decoding), ``extract`` (trafilatura in worker processes), ``files``
(accepted files, reading and decoding), ``records`` (bulk-add lines), then ``prepare``:
``clean`` (whole paragraphs dropped, never altered), ``segment`` (sentences and embedding
windows as spans of the stored text) and ``speakers`` (who says each sentence). Nothing here
touches storage or the model beyond counting tokens.
"""
