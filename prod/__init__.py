"""The production stack run on one machine: what `make prod-smoke` and the HTTP load benchmark
start (``prod.stack``), the SMTP sink that receives its mail (``prod.sink``), a form-filling HTTP
client for the pages (``prod.browser``) and the smoke run itself (``prod.smoke``).

Never part of the built package: it starts servers, it is not the product."""
