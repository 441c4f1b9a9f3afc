"""Pure pandas transforms: BigCommerce customers and orders -> Salesforce frames (rules R1-R13).

Public API (import from the modules; this package imports nothing, so that reading
:mod:`transforms.mapping` stays cheap):

* :func:`transforms.frames.customers_frame`, :func:`transforms.frames.orders_frame`: the
  extractor's records as typed frames (the input contract is that module's docstring);
* :func:`transforms.pipeline.transform` -> :class:`transforms.pipeline.TransformResult`, with
  :class:`transforms.pipeline.ExistingRecords` read from Salesforce beforehand (which records:
  its docstring; :func:`transforms.matching.lookup_emails` lists the contacts' emails);
* :mod:`transforms.mapping`: the field mapping shared with the loader.
"""
