"""The sandbox BigCommerce store: its data (:mod:`.db`), records, formats and HTTPS app (:mod:`.app`)."""
