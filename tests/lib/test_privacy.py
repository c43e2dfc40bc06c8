import pandas as pd

from pls_pipelines.lib.privacy import mask_email, mask_frame_emails


def test_emails_are_masked_but_the_company_domain_stays_visible():
    assert mask_email("dana.ruiz@acme.com") == "d***@acme.com"
    assert (
        mask_email("buyer: Dana <dana@acme.io>, champion lee@beta.com")
        == "buyer: Dana <d***@acme.io>, champion l***@beta.com"
    )
    frame = mask_frame_emails(pd.DataFrame({"email": ["x.y@acme.com", None], "n": [1, 2]}))
    assert frame["email"].tolist()[0] == "x***@acme.com" and frame["n"].tolist() == [1, 2]
