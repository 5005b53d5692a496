"""Demo data: one organization, then every plugin's ``ticketing_seed`` in one transaction."""

from kernel.context import Kernel
from kernel.contracts import SeedContext
from kernel.organizations import Organization, OrganizationRepository

DEMO_ORGANIZATION_SLUG = "demo"


async def seed_demo_data(kernel: Kernel) -> SeedContext:
    """Idempotent: a second run finds everything in place and adds nothing."""
    async with kernel.database.transaction() as session:
        organizations = OrganizationRepository(session)
        organization = await organizations.by_slug(DEMO_ORGANIZATION_SLUG)
        if organization is None:
            organization = organizations.add(
                Organization(slug=DEMO_ORGANIZATION_SLUG, name="Demo Events GmbH")
            )
            await session.flush()
        context = SeedContext(organization_id=organization.id, organization_slug=organization.slug)
        await kernel.hooks.call(
            "ticketing_seed", organization_id=organization.id, session=session, seed=context
        )
    return context
