"""Each chapter's analysis: what a page computes from its records before showing it.

One module per paper (``trustmae``, ``npad``, ``ndpnet``, ``differnet``) and one for the benchmark
chapter (``benchmark``): differences of drops, unit tables, cost grids, training-size curves and the
verdict sentences at the top of a page. Notebooks and benchmark scripts call these functions; they
return tables (``pandas.DataFrame``) and text, never draw or glue (that is :mod:`defectbook.book`).
"""
