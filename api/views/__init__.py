"""HTTP views: parse the request, make one engine call, serialize the result."""
